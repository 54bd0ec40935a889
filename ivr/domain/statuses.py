"""The states a report, its feed events and a message go through, as stored."""

from __future__ import annotations

from enum import StrEnum


class AbsenceStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class AbsenceEvent(StrEnum):
    """What happened to an absence, as the staff feed orders it."""

    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    CANCELLED = "cancelled"


class MessageStatus(StrEnum):
    """An outbox message: ``pending`` -> ``sending`` (claimed by a dispatcher) -> ``sent``
    (the provider took it) -> ``delivered``; or back to ``pending`` after a temporary
    failure; or ``failed``."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"  # no longer needed (an outreach answered or stopped)


class OutreachStatus(StrEnum):
    """A missing pupil's outreach: the guardians are being reached (``active``); a guardian
    knows the pupil is away (``away``, an absence is recorded); nobody knows where the pupil
    is (``missing``: a guardian said so, or none was reached in time; the school is
    alerted); or staff stopped it (``arrived``)."""

    ACTIVE = "active"
    AWAY = "away"
    MISSING = "missing"
    ARRIVED = "arrived"


class AlertReason(StrEnum):
    GUARDIAN_DOES_NOT_KNOW = "guardian_does_not_know"
    NO_GUARDIAN_REACHED = "no_guardian_reached"


class CallOutcome(StrEnum):
    """An outreach call as the provider reports it, and what the guardian keyed."""

    QUEUED = "queued"
    RINGING = "ringing"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
