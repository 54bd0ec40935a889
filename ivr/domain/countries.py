"""What an organisation's country decides: how pupils are identified, how dates are keyed,
and what a new organisation there starts with. Pure.

Sweden: a ten-digit personal number (``YYMMDDNNNC``) and dates as ``YYMMDD``.
Norway: an eleven-digit fødselsnummer or D-number (``DDMMYYIIIKK``) and dates as
``DDMMYY``, the way Norwegians write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ivr.domain.fodselsnummer import Fodselsnummer, parse_fodselsnummer
from ivr.domain.personal_number import PersonalNumber, parse_personal_number
from ivr.dtmf import DateOrder, Expect

IdentityNumber = PersonalNumber | Fodselsnummer


class UnknownCountry(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    identity_number: Expect
    date_order: DateOrder
    timezone: str
    language: str
    identity_number_lengths: str

    def parse_identity_number(self, text: str, today: date) -> IdentityNumber:
        """A pupil's number as written in a roster (raises ``InvalidPersonalNumber``)."""
        if self.identity_number is Expect.FODSELSNUMMER:
            return parse_fodselsnummer(text, today)
        return parse_personal_number(text, today)


COUNTRIES = {
    "SE": Country(
        "SE", Expect.PERSONAL_NUMBER, DateOrder.YMD, "Europe/Stockholm", "sv", "10 or 12"
    ),
    "NO": Country("NO", Expect.FODSELSNUMMER, DateOrder.DMY, "Europe/Oslo", "nb", "11"),
}
DEFAULT_COUNTRY = "SE"


def country(code: str | None) -> Country:
    """The rules of ``code`` (``SE``, ``NO``; any case); Sweden when None."""
    key = (code or DEFAULT_COUNTRY).strip().upper()
    try:
        return COUNTRIES[key]
    except KeyError:
        raise UnknownCountry(
            f"no rules for country {code!r}; known: {', '.join(sorted(COUNTRIES))}"
        ) from None
