"""How an absence is put in words for staff, in their organisation's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.domain.names import PupilName
from ivr.domain.phone import for_display
from ivr.i18n import Catalogue
from ivr.store.feed import StaffAbsence


def pupil_name(item: StaffAbsence) -> str:
    """The pupil's name as staff see it: the first name only when protected."""
    return PupilName.of(item.pupil).shown


def recipient_name(item: StaffAbsence, name: str) -> str:
    """A confirmation's recipient as staff see it, beside the pupil."""
    return PupilName.of(item.pupil).contact(name)


def by_name(item: StaffAbsence) -> tuple[int, str, str]:
    return PupilName.of(item.pupil).order()


def local(item: StaffAbsence, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(item.organisation.timezone))


def period_text(catalogue: Catalogue, item: StaffAbsence, short: bool = True) -> str:
    return catalogue.period(item.absence.period, short=short)


def caller_text(item: StaffAbsence) -> str:
    return for_display(item.absence.caller)


def caller_note(catalogue: Catalogue, item: StaffAbsence) -> str:
    relation = "guardian" if item.absence.caller_is_guardian else "other"
    return catalogue.text(f"email.caller_is_{relation}")


def last_change(item: StaffAbsence) -> datetime:
    absence = item.absence
    moments = [absence.reported_at, absence.acknowledged_at, absence.cancelled_at]
    return max(moment for moment in moments if moment is not None)
