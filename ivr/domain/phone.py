"""Phone numbers: normalised to E.164 with ``phonenumbers``, and caller id that is withheld."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

# What Twilio puts in ``From`` when the caller withholds their number: the words, or the
# digits it has translated them to (ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN, UNAVAILABLE).
_WITHHELD = frozenset(
    {
        "+266696687",
        "+7378742833",
        "+2562533",
        "+8656696",
        "+86282452253",
        "anonymous",
        "restricted",
        "blocked",
        "unknown",
        "unavailable",
        "private",
    }
)


class InvalidPhoneNumber(ValueError):
    pass


def normalise(text: str, region: str = "SE") -> str:
    """Any common way of writing a number (``070-123 45 67``, ``+46701234567``) as E.164."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"not a phone number: {error}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_withheld(caller: str) -> bool:
    """True when the caller's number is hidden or is no phone number at all."""
    value = caller.strip()
    if not value or value.lower() in _WITHHELD:
        return True
    try:
        return not phonenumbers.is_possible_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return True


@lru_cache(maxsize=4096)
def for_display(number: str, home_region: str = "SE") -> str:
    """As people in ``home_region`` write it: national form at home, international abroad."""
    try:
        parsed = phonenumbers.parse(number, home_region)
    except phonenumbers.NumberParseException:
        return number
    if phonenumbers.region_code_for_number(parsed) == home_region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask(number: str) -> str:
    """For logs: the country and the last two digits only."""
    if len(number) <= 6:
        return "***"
    return f"{number[:3]}{'*' * (len(number) - 5)}{number[-2:]}"
