"""The record of each call: who called which line, what came of it, and how many personal
numbers it tried that are in no roster. Written when a call comes in, when it keys an unknown
number, and when the provider reports its end; the steps between need none of it (their
state travels in the webhook URLs, ``ivr.voice.progress``).

Every webhook of a call that writes here runs one of these, so they are driver statements
(``ivr.store.driver``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, Insert, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ivr.store.driver import DriverStatement
from ivr.store.models import Call, table_of

_calls = table_of(Call)
_DIALECTS: dict[str, Any] = {"sqlite": sqlite, "postgresql": postgresql}

_ADD_COLUMNS = (
    "call_sid",
    "organisation_id",
    "caller",
    "called",
    "language",
    "status",
    "unknown_pupils",
    "refused_reason",
    "started_at",
    "updated_at",
)


def _insert_once(dialect: Dialect) -> Insert:
    """``INSERT ... ON CONFLICT (call_sid) DO NOTHING``: a repeated first webhook finds
    the call already there and changes nothing."""
    insert: Insert = (
        _DIALECTS[dialect.name]
        .insert(_calls)
        .values({name: bindparam(name) for name in _ADD_COLUMNS})
        .on_conflict_do_nothing(index_elements=[_calls.c.call_sid])
    )
    return insert


_ADD = DriverStatement("calls.add", _insert_once)

_COUNT_UNKNOWN = DriverStatement(
    "calls.count_unknown",
    update(_calls)
    .where(_calls.c.call_sid == bindparam("sid"))
    .values(unknown_pupils=_calls.c.unknown_pupils + 1, updated_at=bindparam("now")),
)

# Unknown personal numbers keyed from the number ``caller`` in calls since ``since``: read
# with the line at each incoming call (``ivr.store.lines.find_line``), in the same query.
UNKNOWN_FROM_CALLER = (
    select(func.coalesce(func.sum(_calls.c.unknown_pupils), 0))
    .where(_calls.c.caller == bindparam("caller"), _calls.c.started_at >= bindparam("since"))
    .scalar_subquery()
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


def add_call(
    connection: Connection,
    *,
    call_sid: str,
    organisation_id: int | None,
    caller: str,
    called: str,
    language: str,
    status: str,
    now: datetime,
    refused_reason: str | None = None,
) -> bool:
    """The call's record, when it comes in; False if it was there already (a repeated
    webhook)."""
    cursor = _ADD.run(
        connection,
        {
            "call_sid": call_sid,
            "organisation_id": organisation_id,
            "caller": caller,
            "called": called,
            "language": language,
            "status": status,
            "refused_reason": refused_reason,
            "unknown_pupils": 0,
            "started_at": now,
            "updated_at": now,
        },
    )
    return bool(cursor.rowcount)


def count_unknown_pupil(connection: Connection, call_sid: str, now: datetime) -> None:
    """The call keyed a valid personal number that is in no roster."""
    _COUNT_UNKNOWN.run(connection, {"sid": call_sid, "now": now})


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
