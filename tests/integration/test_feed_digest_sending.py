"""The dispatcher queues the day's digests and sends them: a contact teacher's mailbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.clock import STOCKHOLM, Clock
from tests.conftest import make_settings
from tests.integration.test_feed_digest import DAY, add_teachers
from tests.providers import Providers
from tests.records import outbox
from tests.roster_data import seed_roster
from tests.staff import record


@pytest.fixture
def clock() -> Iterator[Clock]:
    running = Clock(datetime(2026, 11, 25, 7, 50, tzinfo=STOCKHOLM))
    yield running
    running.stop()  # else the frozen clock stays with every later test of this process


@pytest.fixture
def server_settings(providers: Providers, database_url: str, clock: Clock) -> dict[str, Any]:
    """Teachers and a report are there before the server (and its dispatcher) starts."""
    seed_roster(make_settings(database_url), clock.now.date())
    add_teachers(database_url)
    record(database_url, "P1", DAY)
    return providers.settings(dispatcher="on")


def test_the_dispatcher_sends_the_digest_to_the_contact_teachers(
    live_server: object, providers: Providers, db: sa.Engine
) -> None:
    deadline = time.monotonic() + 10
    while len([m for m in providers.sink.messages if "Anmäld frånvaro 5A" in m["Subject"]]) < 2:
        assert time.monotonic() < deadline, "the digest did not arrive"
        time.sleep(0.05)

    mails = sorted(
        (m for m in providers.sink.messages if "Anmäld frånvaro 5A" in m["Subject"]),
        key=lambda m: str(m["To"]),
    )
    assert [str(m["To"]) for m in mails] == [
        "Per Berg <per@example.org>",
        "Åsa Lind <asa@example.org>",
    ]
    assert "Alva Andersson: hela dagen onsdag 25 november" in mails[0].get_content()
    while {m["status"] for m in outbox(db) if m["kind"] == "digest"} != {"sent"}:
        assert time.monotonic() < deadline, "the digests were not marked sent"
        time.sleep(0.05)
