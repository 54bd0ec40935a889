"""Work only one process may do at a time, held under a lease that runs out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.store.models import Lease

_DIALECTS: dict[str, Any] = {"sqlite": sqlite, "postgresql": postgresql}


def take_lease(session: Session, name: str, holder: str, now: datetime, hold: timedelta) -> bool:
    """Hold ``name`` until ``now + hold`` if it is free, run out, or held by ``holder``."""
    table = Lease.__table__
    dialect = _DIALECTS[session.get_bind().dialect.name]
    statement = (
        dialect.insert(table)
        .values(name=name, holder=holder, until=now + hold)
        .on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "until": now + hold},
            where=or_(table.c.until < now, table.c.holder == holder),
        )
        .returning(table.c.holder)
    )
    return bool(session.scalar(statement) == holder)
