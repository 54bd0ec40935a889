"""Calls in progress: the flow's state per CallSid, shared by every server process.

These run on every webhook, so they are SQLAlchemy Core statements built once: no ORM
identity map, no statement building or cache-key computing per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from ivr.store.models import Call, table_of

_calls = table_of(Call)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What a webhook needs of a call."""

    id: int
    organisation_id: int | None
    caller: str
    language: str
    state: str
    prompt_no: int
    last_twiml: str


_FIND = select(
    _calls.c.id,
    _calls.c.organisation_id,
    _calls.c.caller,
    _calls.c.language,
    _calls.c.state,
    _calls.c.prompt_no,
    _calls.c.last_twiml,
).where(_calls.c.call_sid == bindparam("sid"))

_ADD = insert(_calls)

_ADVANCE = (
    update(_calls)
    .where(_calls.c.id == bindparam("call_id"), _calls.c.prompt_no == bindparam("answered"))
    .values(
        state=bindparam("new_state"),
        prompt_no=bindparam("next_prompt"),
        last_twiml=bindparam("twiml"),
        updated_at=bindparam("now"),
    )
)

_STATUS = (
    update(_calls)
    .where(_calls.c.call_sid == bindparam("sid"))
    .values(
        status=bindparam("new_status"),
        duration_seconds=bindparam("duration"),
        ended_at=bindparam("ended_at"),
        updated_at=bindparam("now"),
    )
)


def find_call(connection: Connection, call_sid: str) -> CallRecord | None:
    row = connection.execute(_FIND, {"sid": call_sid}).first()
    return None if row is None else CallRecord(*row)


def add_call(
    connection: Connection,
    *,
    call_sid: str,
    organisation_id: int | None,
    caller: str,
    called: str,
    language: str,
    state: str,
    twiml: str,
    status: str,
    now: datetime,
) -> None:
    """The call's first row, at prompt 1. A second copy of the same webhook fails here on
    the unique ``call_sid``."""
    connection.execute(
        _ADD,
        {
            "call_sid": call_sid,
            "organisation_id": organisation_id,
            "caller": caller,
            "called": called,
            "language": language,
            "state": state,
            "prompt_no": 1,
            "last_twiml": twiml,
            "status": status,
            "started_at": now,
            "updated_at": now,
        },
    )


def advance_call(
    connection: Connection,
    call_id: int,
    answered_prompt: int,
    state: str,
    twiml: str,
    now: datetime,
) -> bool:
    """Save the call's next state if nobody else answered ``answered_prompt`` first.

    The condition on ``prompt_no`` makes the database, not a read before the write, decide
    which of two copies of the same webhook wins.
    """
    result = connection.execute(
        _ADVANCE,
        {
            "call_id": call_id,
            "answered": answered_prompt,
            "next_prompt": answered_prompt + 1,
            "new_state": state,
            "twiml": twiml,
            "now": now,
        },
    )
    return bool(result.rowcount)


def record_status(
    connection: Connection,
    call_sid: str,
    status: str,
    duration_seconds: int | None,
    ended_at: datetime | None,
    now: datetime,
) -> bool:
    result = connection.execute(
        _STATUS,
        {
            "sid": call_sid,
            "new_status": status,
            "duration": duration_seconds,
            "ended_at": ended_at,
            "now": now,
        },
    )
    return bool(result.rowcount)
