"""Calls in progress: the flow's state per CallSid, shared by every server process.

Every webhook runs a few of these, so they are Core statements built once and sent
straight to the driver (``DriverStatement``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from ivr.store.driver import DriverStatement
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


_FIND = DriverStatement(
    "calls.find",
    select(
        _calls.c.id,
        _calls.c.organisation_id,
        _calls.c.caller,
        _calls.c.language,
        _calls.c.state,
        _calls.c.prompt_no,
        _calls.c.last_twiml,
    ).where(_calls.c.call_sid == bindparam("sid")),
)

_ADD_COLUMNS = (
    "call_sid",
    "organisation_id",
    "caller",
    "called",
    "language",
    "state",
    "prompt_no",
    "last_twiml",
    "status",
    "unknown_pupils",
    "refused_reason",
    "started_at",
    "updated_at",
)
_ADD = DriverStatement(
    "calls.add", insert(_calls).values({name: bindparam(name) for name in _ADD_COLUMNS})
)

_ADVANCE = DriverStatement(
    "calls.advance",
    update(_calls)
    .where(_calls.c.id == bindparam("call_id"), _calls.c.prompt_no == bindparam("answered"))
    .values(
        state=bindparam("new_state"),
        prompt_no=bindparam("next_prompt"),
        last_twiml=bindparam("twiml"),
        unknown_pupils=bindparam("unknown"),
        language=bindparam("speaks"),
        updated_at=bindparam("now"),
    ),
)

_UNKNOWN_FROM = DriverStatement(
    "calls.unknown_from",
    select(func.sum(_calls.c.unknown_pupils)).where(
        _calls.c.caller == bindparam("caller"), _calls.c.started_at >= bindparam("since")
    ),
)

_STATUS = DriverStatement(
    "calls.status",
    update(_calls)
    .where(_calls.c.call_sid == bindparam("sid"))
    .values(
        status=bindparam("new_status"),
        duration_seconds=bindparam("duration"),
        ended_at=bindparam("ended_at"),
        updated_at=bindparam("now"),
    ),
)


def find_call(connection: Connection, call_sid: str) -> CallRecord | None:
    row = _FIND.first(connection, {"sid": call_sid})
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
    refused_reason: str | None = None,
) -> None:
    """The call's first row, at prompt 1. A second copy of the same webhook fails here on
    the unique ``call_sid``."""
    _ADD.run(
        connection,
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
            "refused_reason": refused_reason,
            "unknown_pupils": 0,
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
    language: str,
    unknown_pupils: int = 0,
) -> bool:
    """Save the call's next state (and the language it speaks from now on, which the
    caller may have changed) if nobody else answered ``answered_prompt`` first.

    The condition on ``prompt_no`` makes the database, not a read before the write, decide
    which of two copies of the same webhook wins.
    """
    cursor = _ADVANCE.run(
        connection,
        {
            "call_id": call_id,
            "answered": answered_prompt,
            "next_prompt": answered_prompt + 1,
            "new_state": state,
            "twiml": twiml,
            "unknown": unknown_pupils,
            "speaks": language,
            "now": now,
        },
    )
    return bool(cursor.rowcount)


def unknown_pupils_from(connection: Connection, caller: str, since: datetime) -> int:
    """Unknown personal numbers keyed from ``caller``'s number in calls since ``since``."""
    (total,) = _UNKNOWN_FROM.first(connection, {"caller": caller, "since": since}) or (0,)
    return int(total or 0)


def record_status(
    connection: Connection,
    call_sid: str,
    status: str,
    duration_seconds: int | None,
    ended_at: datetime | None,
    now: datetime,
) -> bool:
    cursor = _STATUS.run(
        connection,
        {
            "sid": call_sid,
            "new_status": status,
            "duration": duration_seconds,
            "ended_at": ended_at,
            "now": now,
        },
    )
    return bool(cursor.rowcount)


@dataclass(frozen=True, slots=True)
class CallerActivity:
    caller: str
    calls: int
    unknown_pupils: int
    refused: int
    last_call: datetime


def suspicious_callers(connection: Connection, since: datetime) -> list[CallerActivity]:
    """Callers who keyed personal numbers no roster has, or were refused, since ``since``;
    most unknown numbers first."""
    refused = func.sum(case((_calls.c.refused_reason.is_not(None), 1), else_=0))
    unknown = func.sum(_calls.c.unknown_pupils)
    rows = connection.execute(
        select(
            _calls.c.caller,
            func.count(),
            unknown,
            refused,
            func.max(_calls.c.started_at),
        )
        .where(_calls.c.started_at >= since)
        .group_by(_calls.c.caller)
        .having(or_(unknown > 0, refused > 0))
        .order_by(unknown.desc(), refused.desc())
    )
    return [
        CallerActivity(caller, calls, int(unknown_count), int(refused_count), _aware(last))
        for caller, calls, unknown_count, refused_count, last in rows
    ]


def refusals_by_reason(connection: Connection, since: datetime) -> dict[str, int]:
    rows = connection.execute(
        select(_calls.c.refused_reason, func.count())
        .where(_calls.c.started_at >= since, _calls.c.refused_reason.is_not(None))
        .group_by(_calls.c.refused_reason)
    )
    return dict(rows.all())


def _aware(moment: datetime) -> datetime:
    """``max()`` of a stored moment comes back as SQLite's text or a naive value."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
