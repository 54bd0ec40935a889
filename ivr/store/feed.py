"""What staff read: absences of their schools with their confirmations, and the feed of
changes a school system polls.

The feed's order
----------------
Every change to an absence (reported, acknowledged, cancelled) writes a ``feed_events`` row
in the same transaction as the change. A poller keeps the position of the last event it
has read and asks for the events after it. That is only safe if no event can later appear
*before* a position already handed out, and plain ids do not promise that: on PostgreSQL
a sequence value is drawn when a row is inserted, so a transaction that drew id 7 may
commit after another one has committed id 8, and a poller that read 8 would never see 7.

So the position of an event is ``(transaction_id, id)``:

- On PostgreSQL ``transaction_id`` is the writing transaction's id
  (``pg_current_xact_id()``), and a reader returns only events of transactions older than
  its snapshot's ``xmin``, the oldest transaction still running. Every transaction below
  ``xmin`` has finished, so no event will ever appear at a position below it: what the
  reader returns is a settled prefix of the feed, and new events come after it. A
  transaction that runs long holds the feed back (it is delayed, never lost); the line's
  own transactions last milliseconds.
- On SQLite one transaction writes at a time and holds the write lock until it commits,
  so ids are given out in commit order; ``transaction_id`` is 0 and the id alone orders.

Events of one transaction share its ``transaction_id`` and are ordered by id.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.domain.statuses import AbsenceEvent, AbsenceStatus
from ivr.store.driver import DriverStatement
from ivr.store.models import (
    Absence,
    FeedEvent,
    Organisation,
    OutboxMessage,
    Pupil,
    School,
    table_of,
)

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where an event stands in the feed (see the module's docstring)."""

    transaction_id: int
    event_id: int


START = Position(0, 0)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _current_transaction(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(cast(func.pg_current_xact_id(), Text), BigInteger)
    return literal(0, BigInteger)


def _settled(session: Session) -> ColumnElement[bool] | None:
    """Events no running transaction can still add to: None when every committed one is."""
    if _dialect(session) != "postgresql":
        return None
    oldest_running = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    return FeedEvent.transaction_id < oldest_running


# Also run on every report during calls (see ``ivr.store.calls``).
_RECORD_EVENT = DriverStatement(
    "feed.record_event",
    lambda dialect: insert(table_of(FeedEvent)).values(
        transaction_id=_current_transaction(dialect.name),
        absence_id=bindparam("absence_id"),
        school_id=bindparam("school_id"),
        kind=bindparam("kind"),
        happened_at=bindparam("at"),
    ),
)


def record_event(
    connection: Connection, absence_id: int, school_id: int, kind: str, at: datetime
) -> None:
    """Write a feed event of ``absence_id`` in the caller's transaction."""
    _RECORD_EVENT.run(
        connection, {"absence_id": absence_id, "school_id": school_id, "kind": kind, "at": at}
    )


@dataclass(frozen=True, slots=True)
class AbsenceFilter:
    """Which absences: always within ``school_ids``; the rest narrows further."""

    school_ids: Collection[int]
    first_day: date | None = None
    last_day: date | None = None
    group: str | None = None

    def apply(self, query: _Query) -> _Query:
        query = query.where(Absence.school_id.in_(self.school_ids))
        if self.last_day is not None:
            query = query.where(Absence.start_date <= self.last_day)
        if self.first_day is not None:
            query = query.where(Absence.end_date >= self.first_day)
        if self.group is not None:
            query = query.join(Pupil, Pupil.id == Absence.pupil_id).where(
                Pupil.group_name == self.group
            )
        return query


@dataclass(frozen=True, slots=True)
class Changes:
    """One page of the feed: absences in the order of their latest change in the page."""

    absence_ids: list[int]
    last: Position
    more: bool


def changes_after(session: Session, after: Position, which: AbsenceFilter, limit: int) -> Changes:
    """Up to ``limit`` settled events after ``after`` of absences that match ``which``.

    An absence changed several times in the page is listed once, at its latest change; one
    changed again after the page will be in a later page again."""
    query = (
        select(FeedEvent.transaction_id, FeedEvent.id, FeedEvent.absence_id)
        .join(Absence, Absence.id == FeedEvent.absence_id)
        .where(
            tuple_(FeedEvent.transaction_id, FeedEvent.id)
            > tuple_(literal(after.transaction_id), literal(after.event_id))
        )
        .order_by(FeedEvent.transaction_id, FeedEvent.id)
        .limit(limit + 1)
    )
    settled = _settled(session)
    if settled is not None:
        query = query.where(settled)
    events = (session.execute(which.apply(query))).all()
    page = events[:limit]
    ordered: dict[int, None] = {}
    for _transaction_id, _event_id, absence_id in page:
        ordered.pop(absence_id, None)
        ordered[absence_id] = None
    last = Position(page[-1][0], page[-1][1]) if page else after
    return Changes(list(ordered), last, more=len(events) > limit)


def recently_changed(session: Session, school_ids: Collection[int], limit: int) -> list[int]:
    """The ``limit`` absences changed last, the latest first (for the Atom feed)."""
    latest = func.max(FeedEvent.id)
    rows = session.execute(
        select(FeedEvent.absence_id)
        .where(FeedEvent.school_id.in_(school_ids))
        .group_by(FeedEvent.absence_id)
        .order_by(latest.desc())
        .limit(limit)
    )
    return list(rows.scalars())


def absences_covering(
    session: Session, which: AbsenceFilter, status: str | None = None
) -> list[int]:
    """Absences that cover some day of ``which``'s days, in report order."""
    query = which.apply(select(Absence.id)).order_by(Absence.reported_at, Absence.id)
    if status is not None:
        query = query.where(Absence.status == status)
    return list((session.execute(query)).scalars())


@dataclass(frozen=True, slots=True)
class StaffAbsence:
    """An absence with everything staff are shown about it."""

    absence: Absence
    pupil: Pupil
    school: School
    organisation: Organisation
    messages: list[OutboxMessage]

    def messages_of(self, kind: str) -> list[OutboxMessage]:
        return [message for message in self.messages if message.kind == kind]


def load_absences(session: Session, absence_ids: Sequence[int]) -> list[StaffAbsence]:
    """The absences ``absence_ids`` in that order, with their pupil, school and messages."""
    if not absence_ids:
        return []
    rows = session.execute(
        select(Absence, Pupil, School, Organisation)
        .join(Pupil, Absence.pupil_id == Pupil.id)
        .join(School, Absence.school_id == School.id)
        .join(Organisation, Absence.organisation_id == Organisation.id)
        .where(Absence.id.in_(absence_ids))
        .execution_options(populate_existing=True)
    )
    found = {row[0].id: row for row in rows}
    messages: dict[int, list[OutboxMessage]] = {absence_id: [] for absence_id in found}
    for message in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.absence_id.in_(absence_ids))
        .order_by(OutboxMessage.id)
    ):
        if message.absence_id is not None:
            messages[message.absence_id].append(message)
    return [
        StaffAbsence(*found[absence_id], messages[absence_id])
        for absence_id in absence_ids
        if absence_id in found
    ]


def find_absence_id(session: Session, school_ids: Collection[int], reference: str) -> int | None:
    """The absence with ``reference``, if it belongs to one of ``school_ids``."""
    return session.scalar(
        select(Absence.id).where(
            Absence.reference == reference.strip().upper(), Absence.school_id.in_(school_ids)
        )
    )


def acknowledge(session: Session, absence_id: int, by: str, now: datetime) -> bool:
    """Mark an absence seen; the first acknowledgement is kept. True if this one counted."""
    result = session.execute(
        update(Absence)
        .where(Absence.id == absence_id, Absence.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by)
        .returning(Absence.school_id)
    )
    school_id = result.scalar()
    if school_id is None:
        return False
    record_event(session.connection(), absence_id, school_id, AbsenceEvent.ACKNOWLEDGED, now)
    return True


def cancel(session: Session, absence_id: int, by: str, reason: str, now: datetime) -> bool:
    """Cancel an active absence. True if this call cancelled it; False if it already was,
    so that whoever cancels second (even at the same moment) does nothing more."""
    result = session.execute(
        update(Absence)
        .where(Absence.id == absence_id, Absence.status == AbsenceStatus.ACTIVE)
        .values(
            status=AbsenceStatus.CANCELLED, cancelled_at=now, cancelled_by=by, cancel_reason=reason
        )
        .returning(Absence.school_id)
    )
    school_id = result.scalar()
    if school_id is None:
        return False
    record_event(session.connection(), absence_id, school_id, AbsenceEvent.CANCELLED, now)
    return True


def reported_days(
    session: Session, school_ids: Collection[int], first_day: date, last_day: date
) -> list[tuple[int, date, date]]:
    """``(pupil_id, start_date, end_date)`` of the active absences that touch the days."""
    rows = session.execute(
        select(Absence.pupil_id, Absence.start_date, Absence.end_date).where(
            Absence.school_id.in_(school_ids),
            Absence.status == AbsenceStatus.ACTIVE,
            Absence.start_date <= last_day,
            Absence.end_date >= first_day,
        )
    )
    return [(pupil_id, start, end) for pupil_id, start, end in rows]


def pupil_names(session: Session, pupil_ids: Collection[int]) -> list[Pupil]:
    if not pupil_ids:
        return []
    return list(
        session.scalars(
            select(Pupil)
            .where(Pupil.id.in_(pupil_ids))
            .order_by(Pupil.group_name, Pupil.last_name, Pupil.first_name)
        )
    )


def groups_of(session: Session, school_ids: Collection[int]) -> list[tuple[str, str]]:
    """``(school, group)`` of every group with pupils in ``school_ids``."""
    rows = session.execute(
        select(School.name, Pupil.group_name)
        .join(Pupil, Pupil.school_id == School.id)
        .where(School.id.in_(school_ids), Pupil.active.is_(True))
        .distinct()
        .order_by(School.name, Pupil.group_name)
    )
    return [(school, group) for school, group in rows]
