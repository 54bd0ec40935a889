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
