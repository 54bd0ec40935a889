"""An absence as JSON, the same wherever it goes: an item of the feed API
(``GET /api/v1/absences``) and the ``data`` of an absence webhook."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from ivr.domain.masking import masked_address
from ivr.domain.names import PupilName
from ivr.store.feed import StaffAbsence
from ivr.store.models import OutboxMessage

HHMM = r"^\d{2}:\d{2}$"


class Message(BaseModel):
    """A confirmation (or cancellation) sent to a guardian, or to the pupil from 18."""

    recipient: str = Field(
        description="The guardian's (or pupil's) name; the first word of it when the "
        "pupil's identity is protected."
    )
    channel: Literal["sms", "email"]
    to: str = Field(description="The address, masked: `+46 70 *** ** 05`, `a***@example.com`.")
    status: Literal["pending", "sending", "sent", "delivered", "failed"] = Field(
        description="`delivered`: the phone has it (SMS); `sent`: the provider took it (for "
        "email, the last news there is); `failed`: it will not arrive."
    )


class Acknowledgement(BaseModel):
    by: str
    at: datetime


class Cancellation(BaseModel):
    by: str
    at: datetime
    reason: str


class Absence(BaseModel):
    reference: str = Field(description="The report's reference, as in the guardians' SMS.")
    pupil_id: str = Field(description="The pupil's id in the roster.")
    pupil: str = Field(
        description="First and last name; the first name only when the pupil's identity "
        "is protected."
    )
    group: str
    school: str
    start_date: date
    start_time: str | None = Field(pattern=HHMM, description="None: from the start of the day.")
    end_date: date
    end_time: str | None = Field(pattern=HHMM, description="None: to the end of the day.")
    whole_days: bool = Field(description="Neither a start nor an end time.")
    reported_at: datetime = Field(description="In the organisation's time zone, with offset.")
    reported_by: Literal["phone"] = "phone"
    caller: str = Field(description="The number the report came from (E.164).")
    caller_is_guardian: bool
    status: Literal["active", "cancelled"]
    acknowledged: Acknowledgement | None = Field(description="Seen by staff: by whom, when.")
    cancelled: Cancellation | None
    confirmations: list[Message]
    cancellation_messages: list[Message] = Field(
        description="Sent to those who got a confirmation, once the report was cancelled."
    )


def _hhmm(moment: time | None) -> str | None:
    return moment.strftime("%H:%M") if moment is not None else None


def _message(message: OutboxMessage, name: PupilName) -> Message:
    return Message.model_validate(
        {
            "recipient": name.contact(message.recipient_name),
            "channel": message.channel,
            "to": masked_address(message.channel, message.address),
            "status": message.status,
        }
    )


def absence_out(item: StaffAbsence) -> Absence:
    absence, zone = item.absence, ZoneInfo(item.organisation.timezone)
    name = PupilName.of(item.pupil)
    return Absence.model_validate(
        {
            "reference": absence.reference,
            "pupil_id": item.pupil.external_id,
            "pupil": name.shown,
            "group": item.pupil.group_name,
            "school": item.school.name,
            "start_date": absence.start_date,
            "start_time": _hhmm(absence.start_time),
            "end_date": absence.end_date,
            "end_time": _hhmm(absence.end_time),
            "whole_days": absence.start_time is None and absence.end_time is None,
            "reported_at": absence.reported_at.astimezone(zone),
            "caller": absence.caller,
            "caller_is_guardian": absence.caller_is_guardian,
            "status": absence.status,
            "acknowledged": {
                "by": absence.acknowledged_by or "",
                "at": absence.acknowledged_at.astimezone(zone),
            }
            if absence.acknowledged_at is not None
            else None,
            "cancelled": {
                "by": absence.cancelled_by or "",
                "at": absence.cancelled_at.astimezone(zone),
                "reason": absence.cancel_reason or "",
            }
            if absence.cancelled_at is not None
            else None,
            "confirmations": [_message(m, name) for m in item.messages_of("confirmation")],
            "cancellation_messages": [_message(m, name) for m in item.messages_of("cancellation")],
        }
    )
