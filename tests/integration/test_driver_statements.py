"""Every driver statement (``ivr.store.driver``) gives what SQLAlchemy's own execution
gives, on both databases: the rows it returns, the rows it changes and what they hold
afterwards. Each runs both ways in a transaction of its own that is rolled back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import ivr.store.absences
import ivr.store.calls
import ivr.store.feed
import ivr.store.lines
import ivr.store.outbox
import ivr.store.reports
import ivr.store.roster  # noqa: F401 - each module registers its statements
from ivr.domain.personal_number import parse_personal_number
from ivr.store import driver
from ivr.store.db import open_engine
from ivr.store.driver import STATEMENTS
from ivr.store.models import Absence, Call, Organisation, OutboxMessage, Pupil
from tests.calls import heard, place_call
from tests.clock import Clock
from tests.conftest import SECRET_KEY, LiveServer, make_settings
from tests.records import absences, outbox
from tests.roster_data import ALVA, ANNA, BO, LINE, seed_roster

ALVA_PHONE = "+46701740699"


@dataclass(frozen=True)
class Seeded:
    organisation_id: int
    pupil_id: int
    school_id: int
    number_hash: str
    call_id: int
    call_sid: str
    absence_id: int
    now: datetime
    message_id: int  # claimed by "dispatcher-1", to a recipient no other case queues for


@dataclass(frozen=True)
class Case:
    values: Callable[[Seeded], dict[str, Any]]
    changes: tuple[str, ...] = ()  # the tables whose rows the statement writes
    new_id: bool = False  # returns the id of a new row (a sequence moves on regardless)
    many: bool = False  # read with ``all`` rather than ``first``
    generated: tuple[str, ...] = ()  # more columns the database fills in (the new row's id)


def _absence(seeded: Seeded, reference: str = "TEST2345") -> dict[str, Any]:
    return {
        "organisation_id": seeded.organisation_id,
        "school_id": seeded.school_id,
        "pupil_id": seeded.pupil_id,
        "start_date": date(2026, 11, 26),
        "start_time": time(8, 15),
        "end_date": date(2026, 11, 27),
        "end_time": None,
        "reported_at": seeded.now,
        "caller": ANNA,
        "caller_is_guardian": True,
        "call_sid": "CA-other",
        "number_in_call": 1,
        "status": "active",
        "reference": reference,
    }


CASES: dict[str, Case] = {
    "pupils.find": Case(
        lambda s: {"organisation_id": s.organisation_id, "number_hash": s.number_hash}
    ),
    "lines.find": Case(
        lambda s: {"number": LINE, "caller": ANNA, "since": s.now - timedelta(hours=1)}
    ),
    "lines.organisation_rules": Case(lambda s: {"organisation_id": s.organisation_id}),
    "calls.add": Case(
        lambda s: {
            "call_sid": "CA-new",
            "organisation_id": s.organisation_id,
            "caller": ANNA,
            "called": LINE,
            "language": "sv",
            "status": "in-progress",
            "unknown_pupils": 0,
            "refused_reason": None,
            "started_at": s.now,
            "updated_at": s.now,
        },
        changes=("calls",),
    ),
    "calls.count_unknown": Case(
        lambda s: {"sid": s.call_sid, "now": s.now + timedelta(seconds=9)}, changes=("calls",)
    ),
    "calls.status": Case(
        lambda s: {
            "sid": s.call_sid,
            "new_status": "completed",
            "duration": 42,
            "ended_at": s.now + timedelta(minutes=1),
            "now": s.now + timedelta(minutes=1),
        },
        changes=("calls",),
    ),
    "absences.add": Case(_absence, changes=("absences",), new_id=True),
    "reports.facts": Case(
        lambda s: {
            "pupil_id": s.pupil_id,
            "active": "active",
            "start_date": s.now.date(),
            "end_date": s.now.date(),
            "call_sid": "CA-another",
        },
        many=True,
    ),
    "feed.record_event": Case(
        lambda s: {
            "absence_id": s.absence_id,
            "school_id": s.school_id,
            "kind": "reported",
            "at": s.now,
        },
        changes=("feed_events",),
    ),
    "outbox.mark_sent": Case(
        lambda s: {
            "message_id": s.message_id,
            "dispatcher": "dispatcher-1",
            "given_id": "SM0123",
            "given_status": "queued",
            "now": s.now,
        },
        changes=("outbox",),
    ),
    "outbox.queue": Case(
        lambda s: {
            "kind": "confirmation",
            "absence_id": s.absence_id,
            "outreach_id": None,
            "recipient": "guardian:1",
            "recipient_name": "Anna Andersson",
            "channel": "sms",
            "address": ANNA,
            "language": "sv",
            "subject": None,
            "body": "Alva är frånvaroanmäld.",
            "urgent": False,
            "next_attempt_at": s.now,
            "created_at": s.now,
            "updated_at": s.now,
        },
        changes=("outbox",),
    ),
}
# PostgreSQL only: SQLite has no data-modifying common table expressions.
POSTGRESQL_CASES: dict[str, Case] = {
    "reports.add_at_once": Case(
        lambda s: {
            **_absence(s),
            "message_recipients": ["guardian:1", "guardian:2"],
            "message_recipient_names": ["Anna Andersson", "Erik Andersson"],
            "message_channels": ["sms", "email"],
            "message_addresss": [ANNA, "erik@example.com"],
            "message_languages": ["sv", "en"],
            "message_subjects": [None, "Absence"],
            "message_bodys": ["Alva är frånvaroanmäld.", "Alva is reported absent."],
            "message_kind": "confirmation",
            "reported_at": s.now,
            "due": s.now,
            "due_created": s.now,
            "due_updated": s.now,
        },
        changes=("absences", "feed_events", "outbox"),
        new_id=True,
        generated=("absence_id",),
    ),
}
# Written by the database itself, so never the same in two transactions.
GENERATED = {"id", "transaction_id"}


def test_every_driver_statement_has_a_case() -> None:
    assert set(CASES) | set(POSTGRESQL_CASES) == set(STATEMENTS)


@pytest.fixture
def seeded(database_url: str, clock: Clock) -> Iterator[tuple[sa.Engine, Seeded]]:
    seed_roster(make_settings(database_url), clock.now.date())
    engine = open_engine(database_url)
    now = clock()
    with engine.begin() as connection:
        organisation_id, number_hash, pupil_id, school_id = _pupil(connection, clock)
        call_id = connection.execute(
            sa.insert(Call)
            .values(
                call_sid="CA-seeded",
                organisation_id=organisation_id,
                caller=ANNA,
                called=LINE,
                language="sv",
                status="in-progress",
                unknown_pupils=2,
                started_at=now,
                updated_at=now,
            )
            .returning(Call.id)
        ).scalar_one()
        absence_id = connection.execute(
            sa.insert(Absence)
            .values(**_absence_row(organisation_id, school_id, pupil_id, now))
            .returning(Absence.id)
        ).scalar_one()
        message_id = connection.execute(
            sa.insert(OutboxMessage)
            .values(
                absence_id=absence_id,
                kind="confirmation",
                recipient="pupil:1",
                recipient_name="Alva Andersson",
                channel="sms",
                address=ALVA_PHONE,
                language="sv",
                body="Du är frånvaroanmäld.",
                status="sending",
                claimed_by="dispatcher-1",
                claimed_until=now + timedelta(seconds=30),
                attempts=1,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(OutboxMessage.id)
        ).scalar_one()
    yield (
        engine,
        Seeded(
            organisation_id,
            pupil_id,
            school_id,
            number_hash,
            call_id,
            "CA-seeded",
            absence_id,
            now,
            message_id,
        ),
    )
    engine.dispose()


def _pupil(connection: Connection, clock: Clock) -> tuple[int, str, int, int]:
    organisation_id = connection.execute(
        sa.select(Organisation.id).where(Organisation.name == "Testkommun")
    ).scalar_one()
    number = parse_personal_number(ALVA, clock.now.date())
    number_hash = number.keyed_hash(
        make_settings("sqlite://", secret_key=SECRET_KEY).personal_number_key
    )
    pupil_id, school_id = connection.execute(
        sa.select(Pupil.id, Pupil.school_id).where(Pupil.personal_number_hash == number_hash)
    ).one()
    return organisation_id, number_hash, pupil_id, school_id


def _absence_row(
    organisation_id: int, school_id: int, pupil_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "reference": "SEED2345",
        "organisation_id": organisation_id,
        "school_id": school_id,
        "pupil_id": pupil_id,
        "start_date": now.date(),
        "end_date": now.date(),
        "reported_at": now,
        "caller": ANNA,
        "caller_is_guardian": True,
        "call_sid": "CA-seeded",
        "number_in_call": 1,
    }


def _outcome(
    engine: sa.Engine, name: str, case: Case, seeded: Seeded, fast: bool
) -> dict[str, Any]:
    """What the statement returned and left behind, in a transaction then rolled back."""
    statement = STATEMENTS[name]
    values = case.values(seeded)
    with engine.connect() as connection:
        connection.execution_options(**{driver.OPTION: fast})
        with connection.begin() as transaction:
            if case.many:
                returned: Any = statement.all(connection, values)
            elif isinstance(statement.statement_for(connection.dialect), sa.Select) or case.new_id:
                returned = statement.first(connection, values)
            elif isinstance(statement.statement_for(connection.dialect), sa.Update):
                returned = statement.run(connection, values).rowcount
            else:  # an insert: what it did is in the rows
                statement.run(connection, values)
                returned = "inserted"
            if case.new_id:
                assert returned is not None and isinstance(returned[0], int)
                returned = "a new id"
            rows = {}
            for changed in case.changes:
                table = sa.Table(changed, sa.MetaData(), autoload_with=connection)
                rows[changed] = sorted(
                    tuple(
                        (k, v)
                        for k, v in row._mapping.items()
                        if k not in GENERATED and k not in case.generated
                    )
                    for row in connection.execute(sa.select(table))
                )
            transaction.rollback()
    return {"returned": returned, "rows": rows}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_driver_statement_gives_what_sqlalchemy_gives(
    seeded: tuple[sa.Engine, Seeded], name: str
) -> None:
    engine, facts = seeded
    case = CASES[name]
    fast = _outcome(engine, name, case, facts, fast=True)
    through_sqlalchemy = _outcome(engine, name, case, facts, fast=False)
    assert fast == through_sqlalchemy
    assert fast["returned"] not in (None, [], 0), "the case exercises the statement"


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("name", sorted(POSTGRESQL_CASES))
def test_a_postgresql_statement_gives_what_sqlalchemy_gives(
    seeded: tuple[sa.Engine, Seeded], name: str
) -> None:
    engine, facts = seeded
    case = POSTGRESQL_CASES[name]
    fast = _outcome(engine, name, case, facts, fast=True)
    assert fast == _outcome(engine, name, case, facts, fast=False)
    # The seeded message, and the report's two.
    assert len(fast["rows"]["outbox"]) == 3 and len(fast["rows"]["feed_events"]) == 1


@pytest.fixture
def server_settings() -> dict[str, object]:
    return {"driver_statements": False}


def test_the_line_works_with_the_fast_path_off(live_server: LiveServer, db: sa.Engine) -> None:
    """``IVR_DRIVER_STATEMENTS=false``: every webhook's statement through SQLAlchemy."""
    result = place_call(live_server, ALVA, "9", "1", BO, "9")
    assert len(result.references) == 2, heard(result)
    assert [a["first_name"] for a in absences(db)] == ["Alva", "Bo"]
    assert len(outbox(db)) == 8
