"""Who gets a confirmation of a report, and its SMS and email texts. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ivr.domain.absence import AbsencePeriod
from ivr.domain.names import PupilName
from ivr.domain.phone import for_display
from ivr.i18n import Catalogue
from ivr.store.outbox import Draft

ADULT_AGE = 18


@dataclass(frozen=True, slots=True)
class Recipient:
    key: str
    name: str
    phone: str | None
    email: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What every confirmation of one report says."""

    reference: str
    first_name: str
    last_name: str
    group: str
    school: str
    period: AbsencePeriod
    reported_at: datetime
    caller: str
    caller_relation: str  # "guardian", "pupil" or "other"
    protected_identity: bool = False  # named by first name only (``ivr.domain.names``)


def choose_recipients(
    pupil: Recipient, age_on_first_day: int, guardians: Sequence[Recipient]
) -> list[Recipient]:
    """The guardians; a pupil of 18 or more with a contact of their own instead."""
    if age_on_first_day >= ADULT_AGE and (pupil.phone or pupil.email):
        return [pupil]
    return list(guardians)


def caller_relation(caller: str, pupil: Recipient, guardians: Sequence[Recipient]) -> str:
    if any(guardian.phone == caller for guardian in guardians):
        return "guardian"
    if pupil.phone == caller:
        return "pupil"
    return "other"


def confirmation_drafts(
    facts: ReportFacts,
    recipients: Sequence[Recipient],
    catalogue_for: Callable[[str | None], Catalogue],
    home_region: str = "SE",
) -> list[Draft]:
    """One SMS per recipient with a phone and one email per recipient with an address, each
    in the recipient's language. The caller, if among them, is told like everyone else."""
    drafts: list[Draft] = []
    for recipient in recipients:
        catalogue = catalogue_for(recipient.language)
        values = _values(facts, catalogue, recipient, home_region)
        if recipient.phone:
            values_sms = {**values, "period": catalogue.period(facts.period, short=True)}
            drafts.append(
                Draft(
                    kind="confirmation",
                    recipient=recipient.key,
                    recipient_name=recipient.name,
                    channel="sms",
                    address=recipient.phone,
                    language=catalogue.language,
                    subject=None,
                    body=catalogue.text("sms.confirmation", **values_sms),
                )
            )
        if recipient.email:
            drafts.append(
                Draft(
                    kind="confirmation",
                    recipient=recipient.key,
                    recipient_name=recipient.name,
                    channel="email",
                    address=recipient.email,
                    language=catalogue.language,
                    subject=catalogue.text("email.confirmation_subject", **values),
                    body=catalogue.text("email.confirmation_body", **values).strip() + "\n",
                )
            )
    return drafts


def _values(
    facts: ReportFacts, catalogue: Catalogue, recipient: Recipient, home_region: str
) -> dict[str, object]:
    local = facts.reported_at
    name = PupilName(facts.first_name, facts.last_name, facts.protected_identity)
    return {
        "recipient_name": name.contact(recipient.name),
        **name.values(),
        "group": facts.group,
        "school": facts.school,
        "period": catalogue.period(facts.period),
        "reference": facts.reference,
        "caller": for_display(facts.caller, home_region),
        "caller_note": catalogue.text(f"email.caller_is_{facts.caller_relation}"),
        "reported_at": catalogue.text("email.reported_at", date=local.date(), time=local.time()),
    }
