"""A report from a call, in as few round trips as the database allows: one statement reads
everything the report needs, one writes it.

- ``report_facts``: the pupil and school, the guardians, and the periods of the pupil's
  active reports from other calls that overlap the new one (to tell whether it is held
  whole already), in one query on either database.
- ``add_report``: the absence, its feed event and its confirmations. On PostgreSQL one
  statement whose common table expressions insert all three (a statement is atomic, so it
  needs no transaction of its own: the webhook runs it in autocommit and saves the
  round trips of ``BEGIN`` and ``COMMIT``). On SQLite, which has no data-modifying common
  table expressions, three statements in one transaction (the caller's, or one of their
  own when the caller runs in autocommit), which costs little there: the database is in
  the process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Dialect,
    Executable,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ivr.domain.absence import AbsencePeriod
from ivr.domain.statuses import AbsenceEvent, AbsenceStatus, MessageStatus
from ivr.store.absences import (
    ABSENCE_COLUMNS,
    AddedAbsence,
    NewAbsence,
    absence_values,
    add_absence,
    new_reference,
)
from ivr.store.driver import DriverStatement
from ivr.store.models import (
    Absence,
    FeedEvent,
    Guardian,
    OutboxMessage,
    Pupil,
    PupilGuardian,
    School,
    table_of,
)
from ivr.store.outbox import Draft, queue
from ivr.store.roster import GuardianContactRow, ReportedPupil

_pupils, _schools = table_of(Pupil), table_of(School)
_guardians, _links = table_of(Guardian), table_of(PupilGuardian)
_absences, _events, _outbox = table_of(Absence), table_of(FeedEvent), table_of(OutboxMessage)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    pupil: ReportedPupil
    overlapping: list[AbsencePeriod]  # active reports of other calls that overlap
    protected_identity: bool = False  # the pupil's identity is protected

    def held_by(self, period: AbsencePeriod) -> AbsencePeriod | None:
        """An earlier report that holds all of ``period``, if any."""
        return next((other for other in self.overlapping if other.covers(period)), None)


def _facts(dialect: Dialect) -> Executable:
    """One row per guardian (one row with no guardian if there is none), each carrying the
    pupil, the school and the overlapping periods as a JSON array."""
    periods = func.json_array if dialect.name == "sqlite" else func.json_build_array
    aggregate = func.json_group_array if dialect.name == "sqlite" else func.json_agg
    overlapping = (
        select(
            aggregate(
                periods(
                    _absences.c.start_date,
                    _absences.c.start_time,
                    _absences.c.end_date,
                    _absences.c.end_time,
                )
            )
        )
        .where(
            _absences.c.pupil_id == bindparam("pupil_id"),
            _absences.c.status == bindparam("active"),
            _absences.c.start_date <= bindparam("end_date"),
            _absences.c.end_date >= bindparam("start_date"),
            _absences.c.call_sid != bindparam("call_sid"),
        )
        .scalar_subquery()
    )
    statement: Select[Any] = (
        select(
            _pupils.c.id,
            _pupils.c.school_id,
            _schools.c.name,
            _pupils.c.first_name,
            _pupils.c.last_name,
            _pupils.c.group_name,
            _pupils.c.birth_date,
            _pupils.c.phone,
            _pupils.c.email,
            _guardians.c.id,
            _guardians.c.name,
            _guardians.c.phone,
            _guardians.c.email,
            _guardians.c.language,
            cast(overlapping, Text),
            _pupils.c.protected_identity,
        )
        .join(_schools, _schools.c.id == _pupils.c.school_id)
        .outerjoin(_links, _links.c.pupil_id == _pupils.c.id)
        .outerjoin(_guardians, _guardians.c.id == _links.c.guardian_id)
        .where(_pupils.c.id == bindparam("pupil_id"))
        .order_by(_guardians.c.id)
    )
    return statement


_FACTS = DriverStatement("reports.facts", _facts)


def report_facts(
    connection: Connection, pupil_id: int, period: AbsencePeriod, call_sid: str
) -> ReportFacts:
    rows = _FACTS.all(
        connection,
        {
            "pupil_id": pupil_id,
            "active": AbsenceStatus.ACTIVE,
            "start_date": period.start_date,
            "end_date": period.end_date,
            "call_sid": call_sid,
        },
    )
    if not rows:
        raise LookupError(f"no pupil {pupil_id}")
    first = rows[0]
    guardians = [GuardianContactRow(*row[9:14]) for row in rows if row[9] is not None]
    pupil = ReportedPupil(*first[:9], guardians=guardians)  # type: ignore[misc]
    overlapping = [_period(item) for item in json.loads(first[14] or "[]")]
    return ReportFacts(pupil, overlapping, bool(first[15]))


def _period(item: list[str | None]) -> AbsencePeriod:
    start_date, start_time, end_date, end_time = item
    assert start_date is not None and end_date is not None
    return AbsencePeriod(
        date.fromisoformat(start_date),
        None if start_time is None else time.fromisoformat(start_time),
        date.fromisoformat(end_date),
        None if end_time is None else time.fromisoformat(end_time),
    )


_OUTBOX_ARRAYS = ("recipient", "recipient_name", "channel", "address", "language", "subject")


def _all_at_once(dialect: Dialect) -> Executable:
    """PostgreSQL: ``WITH absence AS (INSERT ... ON CONFLICT (reference) DO NOTHING
    RETURNING id), event AS (INSERT INTO feed_events ...), messages AS (INSERT INTO outbox
    ... SELECT ... unnest(...)) SELECT id FROM absence``. A clash of references inserts
    nothing and returns no row (draw again); the same report of the same call twice fails."""
    absence = (
        postgresql.insert(_absences)
        .values({name: bindparam(name) for name in ABSENCE_COLUMNS})
        .on_conflict_do_nothing(index_elements=[_absences.c.reference])
        .returning(_absences.c.id, _absences.c.school_id)
        .cte("absence")
    )
    event = _events.insert().from_select(
        ["transaction_id", "absence_id", "school_id", "kind", "happened_at"],
        select(
            cast(cast(func.pg_current_xact_id(), Text), BigInteger),
            absence.c.id,
            absence.c.school_id,
            literal(AbsenceEvent.REPORTED.value),
            bindparam("reported_at"),
        ),
    )
    unnested = {
        name: func.unnest(bindparam(f"message_{name}s", type_=ARRAY(String)))
        for name in _OUTBOX_ARRAYS
    }
    messages = _outbox.insert().from_select(
        [
            "absence_id",
            "kind",
            *_OUTBOX_ARRAYS,
            "body",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ],
        select(
            absence.c.id,
            bindparam("message_kind", type_=String),
            *unnested.values(),
            func.unnest(bindparam("message_bodys", type_=ARRAY(Text))),
            literal(MessageStatus.PENDING.value),
            literal(0, Integer),
            bindparam("due"),
            bindparam("due_created"),
            bindparam("due_updated"),
        ),
    )
    statement: Select[Any] = (
        select(absence.c.id).add_cte(event.cte("event")).add_cte(messages.cte("messages"))
    )
    return statement


_ALL_AT_ONCE = DriverStatement("reports.add_at_once", _all_at_once)


def add_report(
    connection: Connection,
    new: NewAbsence,
    drafts_for: Callable[[str], list[Draft]],
) -> AddedAbsence:
    """The absence, its feed event and ``drafts_for(reference)`` queued, due at once."""
    if connection.dialect.name != "postgresql":
        if connection.in_transaction():
            return _add_in_steps(connection, new, drafts_for)
        with connection.begin():
            return _add_in_steps(connection, new, drafts_for)
    for _attempt in range(5):
        reference = new_reference()
        drafts = drafts_for(reference)
        row = _ALL_AT_ONCE.first(
            connection, {**absence_values(new, reference), **_message_values(drafts, new)}
        )
        if row is not None:
            return AddedAbsence(int(row[0]), reference)
    raise RuntimeError("could not draw a free absence reference")


def _add_in_steps(
    connection: Connection, new: NewAbsence, drafts_for: Callable[[str], list[Draft]]
) -> AddedAbsence:
    absence = add_absence(connection, new)
    queue(connection, absence.id, drafts_for(absence.reference), new.reported_at)
    return absence


def _message_values(drafts: list[Draft], new: NewAbsence) -> dict[str, Any]:
    values: dict[str, Any] = {
        f"message_{name}s": [getattr(draft, name) for draft in drafts] for name in _OUTBOX_ARRAYS
    }
    values["message_bodys"] = [draft.body for draft in drafts]
    values["message_kind"] = drafts[0].kind if drafts else "confirmation"
    values["reported_at"] = new.reported_at
    values["due"] = values["due_created"] = values["due_updated"] = new.reported_at
    return values
