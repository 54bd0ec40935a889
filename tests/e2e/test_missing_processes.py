"""Missing pupils across processes: two servers marking the same pupils at the same moment
(the database decides: one outreach), and a worker killed with SIGKILL while it places the
outreach's calls (another one goes on; nobody is called or texted twice, save what was in
flight at the kill)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.clock import Clock
from tests.conftest import AUTH_TOKEN, SECRET_KEY, LiveServer, make_settings
from tests.missing import eventually
from tests.processes import ServerProcess, Worker, at_once
from tests.providers import Providers
from tests.records import outbox, rows
from tests.roster_data import ANNA, ERIK, seed_roster
from tests.staff import issue_token

CALL_FROM = "+46701740698"


@pytest.fixture
def two_servers(
    database_url: str, clock: Clock, tmp_path: Path
) -> Iterator[tuple[list[ServerProcess], str]]:
    """Two server processes on one database, and a staff token for Solskolan."""
    settings = make_settings(database_url)
    seed_roster(settings, clock.now.date())
    token = issue_token(settings, "Solskolan", label="Solskolan")
    servers = [
        ServerProcess(database_url, "http://line.example", tmp_path / f"server{n}.log", clock)
        for n in range(2)
    ]
    yield servers, token
    for server in servers:
        server.stop()


def _mark_at_once(urls: list[str], token: str, pupils: list[str]) -> list[httpx.Response]:
    return at_once(
        urls,
        lambda client: client.post(
            "/api/v1/missing",
            json={"pupils": pupils},
            headers={"Authorization": f"Bearer {token}"},
        ),
    )


def test_two_processes_mark_the_same_pupils_at_once_one_outreach_each(
    two_servers: tuple[list[ServerProcess], str], db: sa.Engine
) -> None:
    servers, token = two_servers
    urls = [server.url for server in servers] * 3

    answers = _mark_at_once(urls, token, ["P1", "P2"])

    assert [answer.status_code for answer in answers] == [200] * len(urls)
    by_pupil: dict[str, Counter[tuple[str, str]]] = {"P1": Counter(), "P2": Counter()}
    for answer in answers:
        for pupil in answer.json()["pupils"]:
            by_pupil[pupil["pupil_id"]][(pupil["state"], pupil["outreach"])] += 1
    for pupil_id, seen in by_pupil.items():
        references = {reference for _state, reference in seen}
        assert len(references) == 1, f"{pupil_id}: one outreach, whoever marked it"
        states = Counter(state for state, _reference in seen.elements())
        assert states == {"started": 1, "already_started": len(urls) - 1}, pupil_id
    outreaches = rows(db, "SELECT pupil_id, day FROM outreaches")
    assert len(outreaches) == 2
    assert len(rows(db, "SELECT * FROM outreach_contacts")) == 4, "Anna and Erik, per pupil"
    queued = Counter((m["kind"], m["address"]) for m in outbox(db))
    assert queued == {
        ("missing", ANNA): 2,
        ("missing", ERIK): 2,
        ("missing_call", ANNA): 2,
        ("missing_call", ERIK): 2,
    }, "each guardian one SMS and one call per pupil, not one per marking"


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, object]:
    providers.twilio.ring_timeout_seconds = 60.0
    return providers.settings(call_from=CALL_FROM)


def _worker_environment(
    live_server: LiveServer, providers: Providers, **extra: Any
) -> dict[str, str]:
    settings = providers.settings(
        call_from=CALL_FROM, outbox_lease_seconds=2, sms_per_second=0, email_per_second=0, **extra
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    environment |= {f"IVR_{name.upper()}": str(value) for name, value in settings.items()}
    return environment | {
        "IVR_DATABASE_URL": live_server.settings.database_url,
        "IVR_PUBLIC_BASE_URL": live_server.url,
        "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_SECRET_KEY": SECRET_KEY,
    }


def test_a_worker_killed_while_placing_calls_and_another_goes_on(
    live_server: LiveServer,
    providers: Providers,
    db: sa.Engine,
    clock: Clock,
    tmp_path: Path,
) -> None:
    token = issue_token(live_server.settings, "Solskolan", label="Solskolan")
    providers.twilio.default_answer = "ring"
    marked = httpx.post(
        f"{live_server.url}/api/v1/missing",
        json={"pupils": ["P1", "P2"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert marked.status_code == 200, marked.text
    environment = _worker_environment(live_server, providers, calls_per_second=2)
    first = Worker(environment, tmp_path / "first.log", clock)
    eventually(lambda: len(providers.twilio.calls) >= 1, what="the first call placed")

    first.stop(signal.SIGKILL)
    assert len(providers.twilio.calls) < 4, "the worker died with calls left to place"
    in_flight = {
        (m["kind"], m["address"], m["body"]) for m in outbox(db) if m["status"] == "sending"
    }
    second = Worker(environment, tmp_path / "second.log", clock)
    try:
        eventually(
            lambda: {m["status"] for m in outbox(db)} <= {"sent", "delivered"},
            within=40,
            what="every SMS and call placed",
        )
    finally:
        second.stop()

    calls = Counter((call["to"], call["url"]) for call in providers.twilio.calls)
    assert {to for to, _url in calls} == {ANNA, ERIK}
    assert len(calls) == 4, "each guardian called once about each pupil"
    called_twice = {to for (to, _url), count in calls.items() if count > 1}
    assert called_twice <= {address for kind, address, _body in in_flight if kind == "missing_call"}
    assert all(count <= 2 for count in calls.values())
    texts = Counter((m["To"], m["Body"]) for m in providers.twilio.messages)
    assert sorted(to for to, _body in texts) == sorted([ANNA, ANNA, ERIK, ERIK])
    doubled = {key for key, count in texts.items() if count > 1}
    assert {("missing", to, body) for to, body in doubled} <= in_flight
    assert all(count <= 2 for count in texts.values())
    assert {c["status"] for c in rows(db, "SELECT status FROM outreaches")} == {"active"}
