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
from tests.calls import heard, next_action, place_call
from tests.clock import Clock
from tests.conftest import AUTH_TOKEN, LiveServer, free_port, make_settings
from tests.processes import ServerProcess, TcpProxy, at_once, refused_quickly
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


class Webhooks:
    """One call's webhooks posted by hand to ``url`` (signed for ``base``), each keypress to
    the action of the last gather, as the provider does."""

    def __init__(self, url: str, call_sid: str, base: str | None = None) -> None:
        self.url, self.call_sid, self.base = url, call_sid, base
        self.action = ""

    def start(self) -> httpx.Response:
        return self._follow(
            _post(self.url, "/twilio/voice", self._params(CallStatus="ringing"), self.base)
        )

    def press(
        self, digits: str | None, at: str | None = None, url: str | None = None
    ) -> httpx.Response:
        params = self._params() if digits is None else self._params(Digits=digits)
        return self._follow(_post(url or self.url, at or self.action, params, self.base))

    def _params(self, **extra: str) -> dict[str, str]:
        return _call_params(self.call_sid, **extra)

    def _follow(self, response: httpx.Response) -> httpx.Response:
        if response.status_code == 200:
            self.action = next_action(response.content) or self.action
        return response


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
    call = Webhooks(url, "CA1")
    assert call.start().status_code == 200
    assert "Tryck 9" in call.press(ALVA).text

    proxy.cut()
    started = time.monotonic()
    response = call.press("9")
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
    call = Webhooks(url, "CA1")
    call.start()
    call.press(ALVA)
    at_start = call.action
    blocker = sa.create_engine(sync_url(database_url))
    with blocker.connect() as connection:
        connection.execute(sa.text("LOCK TABLE absences IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        response = call.press("9", at=at_start)
        _apology_within(response, 3.0, started)
        connection.rollback()
    blocker.dispose()
    assert absences(db) == []
    response = call.press("9", at=at_start)
    assert "Frånvaron är registrerad" in response.text, "the call goes on once the lock is gone"
    assert len(absences(db)) == 1


@pytest.mark.backends("postgresql")
def test_a_database_gone_mid_call_costs_nothing_until_the_report(
    server_behind_proxy: LiveServer, proxy: TcpProxy, db: sa.Engine, clock: Clock
) -> None:
    """Dates, times, help, silence: answered from the call's progress while PostgreSQL is
    unreachable; only the report itself needs it, and then the caller is asked to call
    again."""
    call = Webhooks(server_behind_proxy.url, "CA1")
    call.start()
    call.press(ALVA)
    proxy.cut()
    tomorrow = (clock.now + timedelta(days=1)).strftime("%y%m%d")
    for keys, said in [
        ("#", "Tryck 9 om eleven är borta hela dagen i dag."),
        (tomorrow, "Slå starttid"),
        ("1000", "Slå datumet då frånvaron slutar"),
        (None, "Jag hörde ingen knapptryckning."),
        ("9", "Slå sluttid"),
    ]:
        started = time.monotonic()
        response = call.press(keys)
        assert said in response.text
        assert time.monotonic() - started < 0.5, "no wait for the database"
    started = time.monotonic()
    _apology_within(call.press("1200"), 3.0, started)
    proxy.restore()
    assert absences(db) == []


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
        call = Webhooks(server.url, "CA1", "http://line.example")
        call.start()
        call.press(ALVA)
        at_start = call.action
        other = Webhooks(server.url, "CA2", "http://line.example")
        other.start()
        holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        tomorrow = (clock.now + timedelta(days=1)).strftime("%y%m%d")
        assert "Slå starttid" in call.press(tomorrow).text, "a date needs no database"
        started = time.monotonic()
        assert "Tryck 9" in other.press(ALVA).text, "a look-up takes no write lock"
        assert time.monotonic() - started < 0.5, "nor waits for it"
        started = time.monotonic()
        response = call.press("9", at=at_start)
        _apology_within(response, 3.0, started)
        assert httpx.get(f"{server.url}/healthz").status_code == 200, "the process keeps serving"
        holder.execute("ROLLBACK")
        holder.close()
        response = call.press("9", at=at_start)
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
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{base}{path}", params)
    headers = {"X-Twilio-Signature": signature}
    return at_once(urls, lambda client: client.post(path, data=params, headers=headers))


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
    friday = clock.now.date() + timedelta(days=2)
    call = Webhooks(first.url, "CA1", "http://line.example")
    call.start()
    call.press(ALVA)
    call.press(friday.strftime("%y%m%d"))

    first.kill()

    answer = call.press("9", url=second.url)
    assert "Slå datumet då frånvaron slutar" in answer.text, "the call continues where it was"
    call.press("9", url=second.url)
    done = call.press("9", url=second.url)
    assert "Frånvaron är registrerad hela dagen fredag" in done.text
    [absence] = absences(db)
    assert str(absence["start_date"]) == friday.isoformat()


def test_the_same_webhook_at_two_processes_at_once(
    two_servers: tuple[ServerProcess, ServerProcess], db: sa.Engine, clock: Clock
) -> None:
    base = "http://line.example"
    servers = [server.url for server in two_servers]
    today = clock.now.strftime("%y%m%d")
    for number in range(10):
        # Ten hours of one day, so that no report holds another (which would record nothing).
        call = Webhooks(servers[0], f"CA{number}", base)
        call.start()
        for keys in (ALVA, today, f"{8 + number:02d}00", "9"):
            call.press(keys, url=servers[number % 2])
        ends = _call_params(call.call_sid, Digits=f"{8 + number:02d}30")
        answers = _at_once(servers * 2, call.action, ends, base)
        assert len({answer.text for answer in answers}) == 1
        assert sum("X-Absence-Reference" in answer.headers for answer in answers) == 1
    recorded = absences(db)
    assert sorted(a["call_sid"] for a in recorded) == sorted(f"CA{n}" for n in range(10))
    assert len(outbox(db)) == 40
    assert sorted(c["call_sid"] for c in calls(db)) == sorted(f"CA{n}" for n in range(10))
