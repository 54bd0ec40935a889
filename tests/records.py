"""Reading what the line recorded, straight from the database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


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
