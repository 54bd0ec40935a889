"""Cancelling a wrong report: what is recorded, who is told (once), and what the feed and
the guardians' phones show."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.calls import place_call
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.providers import Providers
from tests.records import outbox, rows
from tests.roster_data import ALVA, ANNA, CELIA, CELIA_PHONE, DAVID, ERIK, KARIN
from tests.staff import Staff


def _by_kind(db: sa.Engine, kind: str) -> list[dict[str, Any]]:
    return [message for message in outbox(db) if message["kind"] == kind]


def test_a_cancellation_is_recorded_and_told_to_everyone_who_got_the_confirmation(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine, clock: Clock
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    polled = solskolan.absences()
    clock.now = datetime(2026, 11, 25, 7, 52, tzinfo=clock.now.tzinfo)

    response = solskolan.cancel(reference, "  Fel elev, syskonet är sjukt  ")

    assert response.status_code == 200
    shown = response.json()
    assert shown["status"] == "cancelled"
    assert shown["cancelled"] == {
        "by": "Solskolan",
        "at": "2026-11-25T07:52:00+01:00",
        "reason": "Fel elev, syskonet är sjukt",
    }
    [absence] = rows(db, "SELECT * FROM absences")
    assert absence["status"] == "cancelled"
    assert (absence["cancelled_by"], absence["cancel_reason"]) == (
        "Solskolan",
        "Fel elev, syskonet är sjukt",
    )
    cancellations = _by_kind(db, "cancellation")
    assert sorted((m["address"], m["channel"], m["language"]) for m in cancellations) == [
        (ANNA, "sms", "sv"),
        (ERIK, "sms", "en"),
        ("anna@example.com", "email", "sv"),
        ("erik@example.com", "email", "en"),
    ]
    by_address = {m["address"]: m for m in cancellations}
    assert by_address[ANNA]["body"] == (
        f"Frånvaroanmälan för Alva hela dagen 25 nov. (ref {reference}) är makulerad av skolan. "
        "Frågor? Kontakta skolan."
    )
    assert len(by_address[ANNA]["body"]) <= 160
    assert by_address[ERIK]["body"].startswith("The absence report for Alva all day 25 Nov")
    assert by_address["anna@example.com"]["subject"] == (
        f"Frånvaroanmälan för Alva Andersson makulerad ({reference})"
    )
    assert "Fel elev" not in str(cancellations), "the staff's reason stays with staff"
    # Queued with the absence; this module's server sends them, so some may be out already.
    assert all(m["absence_id"] == absence["id"] for m in cancellations)
    assert {m["status"] for m in cancellations} <= {"pending", "sending", "sent", "delivered"}
    assert {m["recipient"] for m in cancellations} == {
        m["recipient"] for m in _by_kind(db, "confirmation")
    }

    news = solskolan.absences(since=polled["next"])
    assert [a["reference"] for a in news["absences"]] == [reference]
    assert len(news["absences"][0]["cancellation_messages"]) == 4

    again = solskolan.cancel(reference, "Andra gången")
    assert again.status_code == 200
    assert again.json()["cancelled"]["reason"] == "Fel elev, syskonet är sjukt"
    assert len(_by_kind(db, "cancellation")) == 4, "cancelling twice does nothing more"
    assert solskolan.absences(since=news["next"])["absences"] == []


def test_a_channel_whose_confirmation_failed_gets_no_cancellation(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    # The module's server sends (see server_settings): let the delivery reports come in
    # first, or one could overwrite the failure set here.
    _wait_for(lambda: {m["status"] for m in outbox(db)} == {"sent", "delivered"})
    with db.begin() as connection:
        failed = connection.execute(
            sa.text("UPDATE outbox SET status = 'failed' WHERE channel = 'sms' AND address = :a"),
            {"a": ERIK},
        )
        assert failed.rowcount == 1

    solskolan.cancel(reference, "Fel")

    addresses = sorted(m["address"] for m in _by_kind(db, "cancellation"))
    assert addresses == [ANNA, "anna@example.com", "erik@example.com"]


def test_a_pupil_of_18_who_got_the_confirmation_gets_the_cancellation(
    live_server: LiveServer, ekskolan: Staff, db: sa.Engine
) -> None:
    reference = place_call(live_server, CELIA, "9", caller=KARIN).references[0]
    ekskolan.cancel(reference, "Fel")
    assert sorted(m["address"] for m in _by_kind(db, "cancellation")) == [
        CELIA_PHONE,
        "celia@example.com",
    ]


def test_a_report_nobody_was_told_of_is_cancelled_quietly(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    reference = place_call(live_server, DAVID, "9").references[0]
    assert solskolan.cancel(reference, "Fel").json()["status"] == "cancelled"
    assert _by_kind(db, "cancellation") == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_cancellation_needs_a_reason(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine, reason: str
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    assert solskolan.cancel(reference, reason).status_code == 422
    assert rows(db, "SELECT status FROM absences") == [{"status": "active"}]


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, Any]:
    """Every test of this module runs with the dispatcher sending to the local providers."""
    return providers.settings(dispatcher="on")


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.02)


def test_the_cancellation_reaches_the_guardians_phones_and_mailboxes(
    live_server: LiveServer, solskolan: Staff, providers: Providers
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    _wait_for(lambda: len(providers.twilio.messages) == 2 and len(providers.sink.messages) == 2)

    solskolan.cancel(reference, "Fel")

    _wait_for(lambda: len(providers.twilio.messages) == 4 and len(providers.sink.messages) == 4)
    texts = sorted(m["Body"] for m in providers.twilio.messages[2:])
    assert texts[0].startswith("Frånvaroanmälan för Alva hela dagen 25 nov")
    assert texts[1].startswith("The absence report for Alva all day 25 Nov")
    subjects = sorted(str(m["Subject"]) for m in providers.sink.messages[2:])
    assert subjects == [
        f"Absence report for Alva Andersson cancelled ({reference})",
        f"Frånvaroanmälan för Alva Andersson makulerad ({reference})",
    ]
