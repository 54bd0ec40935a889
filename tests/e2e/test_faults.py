"""Faults: the database down, locked or slow; a server process killed mid-call; the same
webhook reaching two processes at once. Callers always hear something sensible, nothing
is half-written, and the line recovers by itself."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as defused
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from ivr.store.db import sync_url
from tests.calls import heard, place_call
from tests.clock import Clock
from tests.conftest import AUTH_TOKEN, LiveServer, free_port, make_settings
from tests.processes import ServerProcess, TcpProxy, refused_quickly
from tests.records import absences, calls, outbox
from tests.roster_data import ALVA, ANNA, LINE, seed_roster

APOLOGY = "Tjänsten fungerar inte just nu."
DEADLINE = 1.0


def _post(url: str, path: str, params: dict[str, str], base: str | None = None) -> httpx.Response:
    """A webhook signed for ``base`` (the public URL) and sent to ``url``."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{base or url}{path}", params)
    return httpx.post(
        f"{url}{path}", data=params, headers={"X-Twilio-Signature": signature}, timeout=10
    )


def _call_params(call_sid: str, **extra: str) -> dict[str, str]:
    return {"CallSid": call_sid, "From": ANNA, "To": LINE, "CallStatus": "in-progress", **extra}


def _apology_within(response: httpx.Response, seconds: float, started: float) -> None:
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    document = defused.fromstring(response.content)
    assert [verb.tag for verb in document] == ["Say", "Hangup"]
    assert APOLOGY in (document[0].text or "")
    assert elapsed < seconds, f"the caller waited {elapsed:.1f} s"


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxied = TcpProxy("127.0.0.1", 5432)
    yield proxied
    proxied.close()


@pytest.fixture
def server_behind_proxy(database_url: str, proxy: TcpProxy, clock: Clock) -> Iterator[LiveServer]:
    """A live server whose way to PostgreSQL goes through ``proxy``."""
    import uvicorn

    from ivr.app import create_app

    seed_roster(make_settings(database_url), clock.now.date())
    proxied = make_url(database_url).set(port=proxy.port).render_as_string(hide_password=False)
    port = free_port()
    settings = make_settings(proxied, f"http://127.0.0.1:{port}", webhook_deadline_seconds=DEADLINE)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=clock), host="127.0.0.1", port=port, log_level="critical"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.backends("postgresql")
def test_postgresql_gone_mid_call_and_back(
    server_behind_proxy: LiveServer, proxy: TcpProxy, db: sa.Engine
) -> None:
    url = server_behind_proxy.url
    assert _post(url, "/twilio/voice", _call_params("CA1", CallStatus="ringing")).status_code == 200
    assert (
        "Tryck 9"
        in _post(url, "/twilio/voice/step?prompt=1", _call_params("CA1", Digits=ALVA)).text
    )

    proxy.cut()
    started = time.monotonic()
    response = _post(url, "/twilio/voice/step?prompt=2", _call_params("CA1", Digits="9"))
    _apology_within(response, 3.0, started)
    started = time.monotonic()
    response = _post(url, "/twilio/voice", _call_params("CA2", CallStatus="ringing"))
    _apology_within(response, 3.0, started)
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 503

    proxy.restore()
    started = time.monotonic()
    while httpx.get(f"{url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() - started < 15, "the line did not recover"
        time.sleep(0.05)
    print(f"ready again {time.monotonic() - started:.2f} s after PostgreSQL came back")
    result = place_call(server_behind_proxy, ALVA, "9")
    assert result.recorded, heard(result)
    [absence] = absences(db)
    assert absence["call_sid"] == result.call_sid, "nothing of the broken call was recorded"
    assert len(outbox(db)) == 4


@pytest.mark.backends("postgresql")
def test_a_query_past_the_deadline(
    server_behind_proxy: LiveServer, database_url: str, db: sa.Engine
) -> None:
    url = server_behind_proxy.url
    _post(url, "/twilio/voice", _call_params("CA1", CallStatus="ringing"))
    _post(url, "/twilio/voice/step?prompt=1", _call_params("CA1", Digits=ALVA))
    blocker = sa.create_engine(sync_url(database_url))
    with blocker.connect() as connection:
        connection.execute(sa.text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        response = _post(url, "/twilio/voice/step?prompt=2", _call_params("CA1", Digits="9"))
        _apology_within(response, 3.0, started)
        connection.rollback()
    blocker.dispose()
    assert absences(db) == []
    response = _post(url, "/twilio/voice/step?prompt=2", _call_params("CA1", Digits="9"))
    assert "Frånvaron är registrerad" in response.text, "the call goes on once the lock is gone"
    assert len(absences(db)) == 1


@pytest.mark.backends("sqlite")
def test_sqlite_locked_by_another_process(database_url: str, clock: Clock, tmp_path: Path) -> None:
    seed_roster(make_settings(database_url), clock.now.date())
    server = ServerProcess(
        database_url,
        "http://line.example",
        tmp_path / "server.log",
        clock,
        webhook_deadline_seconds=DEADLINE,
    )
    try:
        base = "http://line.example"
        _post(server.url, "/twilio/voice", _call_params("CA1", CallStatus="ringing"), base)
        _post(server.url, "/twilio/voice/step?prompt=1", _call_params("CA1", Digits=ALVA), base)
        holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = _post(
            server.url, "/twilio/voice/step?prompt=2", _call_params("CA1", Digits="9"), base
        )
        _apology_within(response, 3.0, started)
        assert httpx.get(f"{server.url}/healthz").status_code == 200, "the process keeps serving"
        holder.execute("ROLLBACK")
        holder.close()
        response = _post(
            server.url, "/twilio/voice/step?prompt=2", _call_params("CA1", Digits="9"), base
        )
        assert "Frånvaron är registrerad" in response.text
    finally:
        server.stop()


def test_the_fallback_url_works_without_a_database(clock: Clock) -> None:
    import uvicorn

    from ivr.app import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{refused_quickly()}/none"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(nowhere, url), clock=clock),
            host="127.0.0.1",
            port=port,
            log_level="critical",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        params = _call_params("CA1", ErrorCode="11200", ErrorUrl=f"{url}/twilio/voice")
        started = time.monotonic()
        _apology_within(_post(url, "/twilio/voice/fallback", params), 3.0, started)
        assert _post(url, "/twilio/voice/fallback", {**params, "CallSid": "CA2"}).status_code == 200
        forged = httpx.post(
            f"{url}/twilio/voice/fallback", data=params, headers={"X-Twilio-Signature": "x"}
        )
        assert forged.status_code == 403
        started = time.monotonic()
        _apology_within(
            _post(url, "/twilio/voice", _call_params("CA3", CallStatus="ringing")), 3.0, started
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _at_once(urls: list[str], path: str, params: dict[str, str], base: str) -> list[httpx.Response]:
    """The same webhook sent to each of ``urls`` at the same moment."""
    barrier = threading.Barrier(len(urls))
    answers: list[httpx.Response] = []

    def deliver(url: str) -> None:
        barrier.wait()
        answers.append(_post(url, path, params, base))

    threads = [threading.Thread(target=deliver, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.fixture
def two_servers(
    database_url: str, clock: Clock, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes behind one public address, on one database."""
    seed_roster(make_settings(database_url), clock.now.date())
    first = ServerProcess(database_url, "http://line.example", tmp_path / "first.log", clock)
    second = ServerProcess(database_url, "http://line.example", tmp_path / "second.log", clock)
    yield first, second
    first.stop()
    second.stop()


def test_a_process_killed_mid_call_and_another_one_goes_on(
    two_servers: tuple[ServerProcess, ServerProcess], db: sa.Engine, clock: Clock
) -> None:
    first, second = two_servers
    base = "http://line.example"
    friday = clock.now.date() + timedelta(days=2)
    _post(first.url, "/twilio/voice", _call_params("CA1", CallStatus="ringing"), base)
    _post(first.url, "/twilio/voice/step?prompt=1", _call_params("CA1", Digits=ALVA), base)
    keyed = friday.strftime("%y%m%d")
    _post(first.url, "/twilio/voice/step?prompt=2", _call_params("CA1", Digits=keyed), base)

    first.kill()

    answer = _post(second.url, "/twilio/voice/step?prompt=3", _call_params("CA1", Digits="9"), base)
    assert "Slå datumet då frånvaron slutar" in answer.text, "the call continues where it was"
    _post(second.url, "/twilio/voice/step?prompt=4", _call_params("CA1", Digits="9"), base)
    done = _post(second.url, "/twilio/voice/step?prompt=5", _call_params("CA1", Digits="9"), base)
    assert "Frånvaron är registrerad hela dagen fredag" in done.text
    [absence] = absences(db)
    assert str(absence["start_date"]) == friday.isoformat()


def test_the_same_webhook_at_two_processes_at_once(
    two_servers: tuple[ServerProcess, ServerProcess], db: sa.Engine
) -> None:
    base = "http://line.example"
    servers = [server.url for server in two_servers]
    for number in range(10):
        call_sid = f"CA{number}"
        _post(servers[0], "/twilio/voice", _call_params(call_sid, CallStatus="ringing"), base)
        _post(servers[1], "/twilio/voice/step?prompt=1", _call_params(call_sid, Digits=ALVA), base)
        answers = _at_once(
            servers * 2, "/twilio/voice/step?prompt=2", _call_params(call_sid, Digits="9"), base
        )
        assert len({answer.text for answer in answers}) == 1
        assert sum("X-Absence-Reference" in answer.headers for answer in answers) == 1
    recorded = absences(db)
    assert sorted(a["call_sid"] for a in recorded) == sorted(f"CA{n}" for n in range(10))
    assert len(outbox(db)) == 40
    assert {c["prompt_no"] for c in calls(db)} == {3}
