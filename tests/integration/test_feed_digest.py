"""The contact teachers' daily digest: when it is due, what it says, and that a group gets
one a day even when several processes queue digests at the same moment."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.services.digest import DigestSchedule, queue_due_digests
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.lines import find_organisation
from ivr.store.staff import TeacherRecord, import_contact_teachers
from tests.clock import STOCKHOLM
from tests.conftest import LiveServer, make_settings
from tests.records import outbox, rows
from tests.roster_data import STRANGER
from tests.staff import in_session, record

DAY = date(2026, 11, 25)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


TEACHERS = [
    TeacherRecord(2, "Solskolan", "5A", "Åsa Lind", "asa@example.org"),
    TeacherRecord(3, "Solskolan", "5A", "Per Berg", "per@example.org"),
    TeacherRecord(4, "Solskolan", "2B", "Lena Holm", "lena@example.org"),
    TeacherRecord(5, "Ekskolan", "8C", "Nils Ek", "nils@example.org"),
]


def at(hour: int, minute: int, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), STOCKHOLM)


def add_teachers(database_url: str, teachers: list[TeacherRecord] = TEACHERS) -> None:
    def work(session: Session) -> None:
        organisation = find_organisation(session, "Testkommun")
        assert organisation is not None
        import_contact_teachers(session, organisation.id, teachers)

    in_session(database_url, work)


def digests(db: sa.Engine) -> list[dict[str, Any]]:
    return [message for message in outbox(db) if message["kind"] == "digest"]


class Queuer:
    """Runs ``queue_due_digests`` as one process of the line would, on its own engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, now: datetime) -> int:
        database = Database(self.settings.database_url, serving=True)
        try:
            return await queue_due_digests(database, now, self.settings)
        finally:
            database.dispose()

    def run(self, now: datetime) -> int:
        return asyncio.run(self(now))


@pytest.fixture
def queuer(live_server: LiveServer) -> Queuer:
    add_teachers(live_server.settings.database_url)
    return Queuer(live_server.settings)


def test_the_digest_goes_at_the_digest_time_to_each_teacher_of_a_group_with_absences(
    queuer: Queuer, database_url: str, db: sa.Engine
) -> None:
    record(database_url, "P1", DAY, reported_at=at(7, 5))
    record(database_url, "P4", DAY, start_time=time(10), reported_at=at(7, 10), caller=STRANGER)
    record(database_url, "P1", DAY + timedelta(days=1))

    assert queuer.run(at(7, 44)) == 0
    assert queuer.run(at(7, 45)) == 2

    sent = sorted(digests(db), key=lambda message: message["address"])
    assert [(m["address"], m["recipient_name"], m["channel"]) for m in sent] == [
        ("asa@example.org", "Åsa Lind", "email"),
        ("per@example.org", "Per Berg", "email"),
    ]
    message = sent[0]
    assert message["subject"] == "Anmäld frånvaro 5A, Solskolan, onsdag 25 november: 1 st"
    assert message["body"].startswith("Hej Åsa Lind,\n\nAnmäld frånvaro i 5A på Solskolan")
    assert (
        "- Alva Andersson: hela dagen onsdag 25 november. Anmält klockan 07.05 från "
        "070-174 06 05 (en registrerad vårdnadshavare)." in message["body"]
    )
    assert message["absence_id"] is None and message["status"] == "pending"
    assert message["language"] == "sv"
    assert rows(db, "SELECT group_name, absences FROM digests") == [
        {"group_name": "5A", "absences": 1}
    ], "3A has an absence but no contact teacher; 2B has a teacher but no absence"

    assert queuer.run(at(7, 46)) == 0, "once a day"
    assert queuer.run(at(15, 0)) == 0
    assert len(digests(db)) == 2


def test_a_digest_lists_every_pupil_of_the_group_and_leaves_cancelled_reports_out(
    queuer: Queuer, database_url: str, db: sa.Engine, live_server: LiveServer
) -> None:
    add_teachers(database_url, [TeacherRecord(2, "Solskolan", "2B", "Lena Holm", "lena@x.org")])
    record(database_url, "P2", DAY - timedelta(days=1), end=DAY + timedelta(days=1))
    wrong = record(database_url, "P2", DAY, start_time=time(13))
    with db.begin() as connection:
        connection.execute(
            sa.text("UPDATE absences SET status = 'cancelled' WHERE reference = :r"), {"r": wrong}
        )

    assert queuer.run(at(8, 0)) == 1
    [message] = digests(db)
    assert message["body"].count("- Bo Andersson") == 1
    assert "från tisdag 24 november till och med torsdag 26 november" in message["body"]


def test_a_group_with_no_absences_gets_no_digest_and_the_next_day_is_a_new_day(
    queuer: Queuer, database_url: str, db: sa.Engine
) -> None:
    assert queuer.run(at(7, 45)) == 0
    assert digests(db) == []
    record(database_url, "P5", DAY + timedelta(days=1))

    assert queuer.run(at(7, 50, DAY + timedelta(days=1))) == 1
    [message] = digests(db)
    assert message["address"] == "nils@example.org"
    assert "torsdag 26 november" in message["subject"]


def test_the_digest_time_is_a_setting_in_the_organisations_time_zone(
    live_server: LiveServer, database_url: str, db: sa.Engine
) -> None:
    add_teachers(database_url)
    record(database_url, "P5", DAY)
    queuer = Queuer(make_settings(database_url, digest_time="06:30"))

    assert queuer.run(datetime(2026, 11, 25, 5, 29, tzinfo=UTC)) == 0, "06:29 in Stockholm"
    assert queuer.run(datetime(2026, 11, 25, 5, 30, tzinfo=UTC)) == 1


def _at_once(queuer: Queuer, now: datetime, processes: int = 3) -> list[int]:
    """``queue_due_digests`` in several threads, each with its own engine, started together."""
    start = threading.Barrier(processes)
    counts: list[int] = []

    def process() -> None:
        start.wait()
        counts.append(queuer.run(now))

    threads = [threading.Thread(target=process) for _ in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return counts


def test_processes_queueing_at_once_send_one_digest_per_group(
    queuer: Queuer, database_url: str, db: sa.Engine
) -> None:
    expected = 4  # 5A: two teachers; 2B: one; 8C: one
    for offset in range(3):
        day = DAY + timedelta(days=offset)
        for pupil in ("P1", "P2", "P5"):
            record(database_url, pupil, day)

        counts = _at_once(queuer, at(7, 45, day))

        assert sum(counts) == expected, counts
    assert len(digests(db)) == 3 * expected
    pairs = [(m["address"], m["subject"]) for m in digests(db)]
    assert len(set(pairs)) == len(pairs), "no teacher got a digest twice"
    assert len(rows(db, "SELECT * FROM digests")) == 9


@pytest.mark.anyio
async def test_two_tasks_queueing_at_once_send_one_digest_per_group(
    queuer: Queuer, database_url: str, db: sa.Engine
) -> None:
    await asyncio.to_thread(record, database_url, "P1", DAY)
    counts = await asyncio.gather(*(queuer(at(7, 45)) for _ in range(4)))
    assert sorted(counts) == [0, 0, 0, 2]
    assert len(digests(db)) == 2


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def schedule(queuer: Queuer) -> AsyncIterator[tuple[DigestSchedule, FakeMonotonic]]:
    database = Database(queuer.settings.database_url, serving=True)
    monotonic = FakeMonotonic()
    yield DigestSchedule(database, queuer.settings, monotonic), monotonic
    database.dispose()


@pytest.mark.anyio
async def test_the_schedule_looks_at_most_once_a_minute(
    schedule: tuple[DigestSchedule, FakeMonotonic], database_url: str, db: sa.Engine
) -> None:
    digest_schedule, monotonic = schedule
    assert await digest_schedule.tick(at(7, 40)) == 0
    await asyncio.to_thread(record, database_url, "P1", DAY)
    monotonic.now += 59
    assert await digest_schedule.tick(at(7, 45)) == 0, "not yet a minute since it looked"
    monotonic.now += 1
    assert await digest_schedule.tick(at(7, 45)) == 2
    assert len(digests(db)) == 2


@pytest.mark.anyio
async def test_a_failing_digest_does_not_stop_the_dispatcher(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database("postgresql+psycopg://nobody@127.0.0.1:9/unreachable")
    broken = DigestSchedule(database, live_server.settings)
    assert await broken.tick(at(7, 45)) == 0
    assert "could not queue the daily digests" in caplog.text
    database.dispose()
