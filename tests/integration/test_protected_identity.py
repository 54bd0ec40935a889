"""A pupil whose identity is protected, on every surface that shows a reported absence:
the staff page (the day's reports and the roll call), the JSON API, Atom, CSV, the
confirmations and the cancellation sent to the guardians, and the contact teachers' daily
digest. The same pupil unprotected is shown by full name, so each check can fail.

Alva's family is renamed Zetterlund for these tests (her guardians too), so the last name
is hers alone: it must appear nowhere while she is protected."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.services.digest import queue_due_digests
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.lines import find_organisation
from ivr.store.staff import TeacherRecord, import_contact_teachers
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.protected import LAST_NAME, make_family, shows_alva
from tests.records import outbox
from tests.roster_data import ANNA, ERIK
from tests.staff import Staff, days_back, in_session, issue_token, record


@pytest.fixture(params=[True, False], ids=["protected", "unprotected"])
def protected(request: pytest.FixtureRequest, live_server: LiveServer) -> bool:
    make_family(live_server.settings.database_url, request.param)
    chosen: bool = request.param
    return chosen


@pytest.fixture
def staff(live_server: LiveServer, protected: bool) -> Staff:
    return Staff(live_server, issue_token(live_server.settings, "Solskolan", label="5A"))


def _page(server: LiveServer, staff: Staff) -> str:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/staff", params={"token": staff.token}).status_code == 303
        page = client.get("/staff")
    assert page.status_code == 200
    return page.text


def test_the_page_the_api_atom_and_csv_show_a_protected_pupil_by_first_name_only(
    live_server: LiveServer, staff: Staff, protected: bool, clock: Clock
) -> None:
    today = clock.now.date()
    reference = record(live_server.settings.database_url, "P1", today)
    for day in days_back(today, 8)[1:]:  # more than 3 school days of the last 30
        record(live_server.settings.database_url, "P1", day)

    page = _page(live_server, staff)
    shows_alva(page, protected)
    shown = "Alva" if protected else f"Alva {LAST_NAME}"
    assert f"<h3>{shown}" in page, "the day's reports"
    assert f"{shown} (5A, Solskolan): " in page, "the pupils with many reported days"
    assert f"<span>{shown}</span>" in page, "the roll call: reported"

    [item] = [a for a in staff.absences()["absences"] if a["reference"] == reference]
    assert item["pupil"] == shown
    recipients = {message["recipient"] for message in item["confirmations"]}
    assert recipients == (
        {"Anna", "Erik"} if protected else {f"Anna {LAST_NAME}", f"Erik {LAST_NAME}"}
    )
    shows_alva(json.dumps(item, ensure_ascii=False), protected)

    atom = staff.get("/api/v1/absences.atom")
    assert atom.status_code == 200
    shows_alva(atom.text, protected)

    csv = staff.get("/api/v1/absences.csv", **{"from": today.isoformat(), "to": today.isoformat()})
    assert csv.status_code == 200
    shows_alva(csv.text, protected)
    staff.close()


def test_confirmations_and_a_cancellation_name_a_protected_pupil_by_first_name_only(
    live_server: LiveServer, staff: Staff, protected: bool, db: sa.Engine, clock: Clock
) -> None:
    reference = record(live_server.settings.database_url, "P1", clock.now.date())
    assert staff.cancel(reference, "wrong pupil").status_code == 200
    staff.close()

    sent = [m for m in outbox(db) if m["kind"] in ("confirmation", "cancellation")]
    assert {(m["kind"], m["channel"], m["address"]) for m in sent} == {
        (kind, channel, address)
        for kind in ("confirmation", "cancellation")
        for channel, address in (
            ("sms", ANNA),
            ("sms", ERIK),
            ("email", "anna@example.com"),
            ("email", "erik@example.com"),
        )
    }, "to Alva's guardians only"
    for message in sent:
        text = (message["subject"] or "") + message["body"]
        assert "Alva" in text
        if protected:
            assert LAST_NAME not in text
        elif message["channel"] == "email":
            assert f"Alva {LAST_NAME} (5A, Solskolan)" in text


def _add_teacher(database_url: str) -> None:
    def work(session: Session) -> None:
        organisation = find_organisation(session, "Testkommun")
        assert organisation is not None
        teacher = TeacherRecord(2, "Solskolan", "5A", "Åsa Lind", "asa@example.org")
        import_contact_teachers(session, organisation.id, [teacher])

    in_session(database_url, work)


def _queue_digests(settings: Settings, now: datetime) -> int:
    async def run() -> int:
        database = Database(settings.database_url, serving=True)
        try:
            return await queue_due_digests(database, now, settings)
        finally:
            database.dispose()

    return asyncio.run(run())


def test_the_digest_does_not_name_a_protected_pupil(
    live_server: LiveServer, protected: bool, db: sa.Engine, clock: Clock
) -> None:
    settings = live_server.settings
    today: date = clock.now.date()
    _add_teacher(settings.database_url)
    reference = record(settings.database_url, "P1", today)

    after_the_digest_time = datetime.combine(today, time(23, 0), clock.now.tzinfo)
    assert _queue_digests(settings, after_the_digest_time) == 1

    [digest] = [m for m in outbox(db) if m["kind"] == "digest"]
    assert digest["address"] == "asa@example.org"
    text = digest["subject"] + digest["body"]
    if protected:
        assert "Alva" not in text and LAST_NAME not in text
        assert f"En elev i 5A (ref {reference})" in text
        assert ANNA not in text and "070-174 06 05" not in text, "nor whose number reported it"
    else:
        assert f"Alva {LAST_NAME}" in text
