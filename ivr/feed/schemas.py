"""What the JSON API answers: the absence of ``ivr absences list --json`` (shared with the
absence webhooks, so it lives in ``ivr.services.absence_json``) and more."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ivr.services.absence_json import HHMM, Absence, absence_out

__all__ = ["HHMM", "NO_NUL", "Absence", "AbsencePage", "CancelRequest", "School", "absence_out"]

# PostgreSQL refuses NUL in text: a request holding one is answered 422, never stored.
NO_NUL = r"^[^\x00]*$"


class AbsencePage(BaseModel):
    absences: list[Absence]
    next: str = Field(
        description="Pass as `since` to get what changed after this page. Keep it even when "
        "`absences` is empty."
    )
    more: bool = Field(description="True if more changes are waiting: ask again at once.")


class CancelRequest(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=NO_NUL,
        description="Why the report is wrong.",
    )


class School(BaseModel):
    name: str
    groups: list[str]
