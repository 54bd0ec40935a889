"""Calls in progress: the flow's state per CallSid, shared by every server process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.store.models import Call


def find_call(session: Session, call_sid: str) -> Call | None:
    return session.scalar(select(Call).where(Call.call_sid == call_sid))


def advance_call(
    session: Session, call_id: int, answered_prompt: int, state: str, twiml: str, now: datetime
) -> bool:
    """Save the call's next state if nobody else answered ``answered_prompt`` first.

    The condition on ``prompt_no`` makes the database, not a read before the write, decide
    which of two copies of the same webhook wins.
    """
    result = session.execute(
        update(Call)
        .where(Call.id == call_id, Call.prompt_no == answered_prompt)
        .values(state=state, prompt_no=answered_prompt + 1, last_twiml=twiml, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_status(
    session: Session,
    call_sid: str,
    status: str,
    duration_seconds: int | None,
    ended_at: datetime | None,
    now: datetime,
) -> bool:
    result = session.execute(
        update(Call)
        .where(Call.call_sid == call_sid)
        .values(
            status=status,
            duration_seconds=duration_seconds,
            ended_at=ended_at,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
