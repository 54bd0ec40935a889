"""Reading what the line recorded, straight from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ivr.store.models import OutboxMessage


def rows(db: sa.Engine, query: str, **params: Any) -> list[dict[str, Any]]:
    with db.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(query), params)]


def absences(db: sa.Engine) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT a.*, p.first_name FROM absences a JOIN pupils p ON p.id = a.pupil_id ORDER BY a.id",
    )


def outbox(db: sa.Engine) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM outbox ORDER BY id")


def calls(db: sa.Engine) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM calls ORDER BY id")


def queue_messages(
    db: sa.Engine,
    count: int,
    channel: str = "sms",
    now: datetime | None = None,
    absence_id: int | None = None,
    urgent: bool = False,
) -> list[str]:
    """``count`` messages straight into the outbox, due ``now``; their bodies, which are unique."""
    due = now or datetime.now(UTC) - timedelta(seconds=1)
    prefix = "urgent" if urgent else "message"
    bodies = [f"{prefix} {number}" for number in range(count)]
    with db.begin() as connection:
        connection.execute(
            sa.insert(OutboxMessage),
            [
                {
                    "kind": "confirmation",
                    "absence_id": absence_id,
                    "recipient": f"{prefix}:{number}",
                    "recipient_name": "Test",
                    "channel": channel,
                    "address": (
                        f"+467017406{number % 90 + 10:02d}"
                        if channel == "sms"
                        else f"t{number}@example.com"
                    ),
                    "language": "sv",
                    "subject": "test" if channel == "email" else None,
                    "body": body,
                    "urgent": urgent,
                    "next_attempt_at": due,
                    "created_at": due,
                    "updated_at": due,
                }
                for number, body in enumerate(bodies)
            ],
        )
    return bodies
