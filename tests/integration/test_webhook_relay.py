"""The relay and the webhook lane, driven by hand: feed events into the outbox once per
endpoint and event, by one process at a time, never skipping one committed late; the lane's
failures (refused, no answer, out of attempts, a secret that no longer opens)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session

from ivr.devtools.providers import HttpServer
from ivr.notify.webhook_gateway import WebhookGateway
from ivr.notify.webhook_lane import SEALED_KEY_CHANGED, WebhookLane
from ivr.services.webhook_relay import LEASE_HOLD, Relayed, relay
from ivr.services.webhooks import EndpointSecrets, check_events, new_secret
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.lines import find_organisation
from ivr.store.retention import delete_old_absences
from ivr.store.webhooks import add_endpoint
from tests.clock import Clock
from tests.conftest import free_port, make_settings
from tests.processes import refused_quickly
from tests.records import rows
from tests.roster_data import seed_roster
from tests.staff import in_session, record, record_in, wait_for_the_feed
from tests.webhook_receiver import Receiver


@pytest.fixture
def settings(database_url: str, clock: Clock) -> Settings:
    settings = make_settings(database_url)
    seed_roster(settings, clock.now.date())
    return settings


def add(
    settings: Settings, url: str, organisation: str = "Testkommun", secret: str | None = None
) -> int:
    """An endpoint for every event, as ``ivr webhook add`` makes it; its id."""

    def work(session: Session) -> int:
        found = find_organisation(session, organisation)
        assert found is not None
        secrets = EndpointSecrets(settings.personal_number_key)
        sealed = secrets.seal(secret or new_secret(), found.id, url)
        endpoint = add_endpoint(session, found.id, url, check_events([]), sealed, datetime.now(UTC))
        return endpoint.id

    return in_session(settings.database_url, work)


def relay_now(settings: Settings, clock: Clock, holder: str = "w1") -> Relayed:
    wait_for_the_feed(settings.database_url)
    return in_session(settings.database_url, lambda session: relay(session, holder, clock()))


def queued(db: sa.Engine) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM outbox WHERE channel = 'webhook' ORDER BY id")


def test_a_new_endpoint_gets_no_history_and_each_later_event_once(
    settings: Settings, clock: Clock, db: sa.Engine
) -> None:
    today = clock.now.date()
    record(settings.database_url, "P1", today)
    endpoint = add(settings, "https://sis.example.org/a")
    assert relay_now(settings, clock) == Relayed(0, 0), "what came before is not sent"

    reference = record(settings.database_url, "P2", today)
    assert relay_now(settings, clock) == Relayed(1, 1)
    assert relay_now(settings, clock) == Relayed(0, 0)

    [delivery] = queued(db)
    event = json.loads(delivery["body"])
    assert (event["type"], event["data"]["reference"]) == ("absence.recorded", reference)
    assert (delivery["webhook_endpoint_id"], delivery["subject"]) == (endpoint, event["type"])
    assert delivery["address"] == "https://sis.example.org/a"
    [position] = rows(db, "SELECT cursor_event_id FROM webhook_endpoints")
    assert position["cursor_event_id"] == delivery["feed_event_id"]


def test_one_process_relays_at_a_time(settings: Settings, clock: Clock, db: sa.Engine) -> None:
    add(settings, "https://sis.example.org/a")
    add(settings, "https://sis.example.org/b")
    record(settings.database_url, "P1", clock.now.date())

    assert relay_now(settings, clock, "w1") == Relayed(1, 2)
    record(settings.database_url, "P2", clock.now.date())
    assert relay_now(settings, clock, "w2") == Relayed(0, 0), "w1 holds the lease"
    clock.now += LEASE_HOLD + timedelta(seconds=1)
    assert relay_now(settings, clock, "w2") == Relayed(1, 2), "w1's lease ran out"
    assert relay_now(settings, clock, "w1") == Relayed(0, 0)
    assert len(queued(db)) == 4
    pairs = {(d["webhook_endpoint_id"], d["feed_event_id"]) for d in queued(db)}
    assert len(pairs) == 4


def test_a_disabled_endpoint_holds_back_no_other(
    settings: Settings, clock: Clock, db: sa.Engine
) -> None:
    stopped = add(settings, "https://sis.example.org/a")
    add(settings, "https://sis.example.org/b")
    with db.begin() as connection:
        connection.execute(
            sa.text("UPDATE webhook_endpoints SET disabled_at = :now WHERE id = :id"),
            {"now": clock(), "id": stopped},
        )
    for pupil in ("P1", "P2", "P5"):
        record(settings.database_url, pupil, clock.now.date())

    assert relay_now(settings, clock) == Relayed(3, 3)
    assert {d["webhook_endpoint_id"] for d in queued(db)} == {stopped + 1}
    [cursor] = rows(db, "SELECT cursor_event_id FROM webhook_endpoints WHERE id = :id", id=stopped)
    assert cursor["cursor_event_id"] == 0


def test_retention_takes_an_absences_deliveries_with_it(
    settings: Settings, clock: Clock, db: sa.Engine
) -> None:
    add(settings, "https://sis.example.org/a")
    long_ago = clock.now.date() - timedelta(days=500)
    record(settings.database_url, "P1", long_ago, reported_at=clock.now)
    record(settings.database_url, "P2", clock.now.date())
    assert relay_now(settings, clock) == Relayed(2, 2)

    deleted = in_session(
        settings.database_url,
        lambda session: delete_old_absences(session, clock.now.date(), 400),
    )

    assert deleted == 1
    [kept] = queued(db)
    assert json.loads(kept["body"])["data"]["pupil_id"] == "P2"


@pytest.mark.backends("postgresql")
def test_an_event_committed_late_is_relayed_not_skipped(
    settings: Settings, clock: Clock, db: sa.Engine
) -> None:
    """On PostgreSQL a transaction can commit after a later one: its event comes before
    the later one's in the feed. The relay waits for it instead of moving past it."""
    add(settings, "https://sis.example.org/a")
    database = Database(settings.database_url)
    try:
        with database.sessions.begin() as slow:
            early = record_in(slow, "P1", clock.now.date())  # its transaction id comes first
            late = record(settings.database_url, "P2", clock.now.date())
            assert in_session(
                settings.database_url, lambda session: relay(session, "w1", clock())
            ) == Relayed(0, 0), "P2's event waits behind the running transaction"
    finally:
        database.dispose()

    assert relay_now(settings, clock) == Relayed(2, 2)
    assert [json.loads(d["body"])["data"]["reference"] for d in queued(db)] == [early, late]
    assert relay_now(settings, clock) == Relayed(0, 0)


@pytest.mark.backends("postgresql")
def test_a_new_endpoint_starts_after_the_last_committed_event_while_others_run(
    settings: Settings, clock: Clock, db: sa.Engine
) -> None:
    """An older transaction still running holds the feed's settled part back; what was
    committed before the endpoint was added is history all the same."""
    with db.connect() as older:
        older.execute(sa.text("SELECT pg_current_xact_id()"))  # running, with an id
        record(settings.database_url, "P1", clock.now.date())
        add(settings, "https://sis.example.org/a")
        older.rollback()

    assert relay_now(settings, clock) == Relayed(0, 0)


# --- the lane ------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server = HttpServer(receiver.app(), free_port())
    receiver.server.start()
    yield receiver
    receiver.let_go.set()
    receiver.server.stop()


class Lane:
    def __init__(self, settings: Settings, clock: Clock, **overrides: Any) -> None:
        self.settings = settings.model_copy(update={"webhook_timeout_seconds": 0.5, **overrides})
        self.database = Database(settings.database_url, serving=True)
        self.gateway = WebhookGateway(self.settings, clock)
        self.lane = WebhookLane(self.database, self.gateway, self.settings, clock, name="w1")

    async def round(self) -> int:
        """Claim what is due, wait for every post and its outcome."""
        started = await self.lane.deliver_once()
        await self.lane.drain()
        return started

    async def close(self) -> None:
        await self.gateway.close()
        await self.database.aclose()


@pytest.fixture
async def lane(settings: Settings, clock: Clock) -> AsyncIterator[Lane]:
    made = Lane(settings, clock, outbox_max_attempts=3)
    yield made
    await made.close()


def endpoint_row(db: sa.Engine, endpoint_id: int) -> dict[str, Any]:
    [row] = rows(db, "SELECT * FROM webhook_endpoints WHERE id = :id", id=endpoint_id)
    return row


@pytest.mark.anyio
async def test_refused_then_unanswered_then_given_up(
    settings: Settings, clock: Clock, db: sa.Engine, lane: Lane, receiver: Receiver
) -> None:
    dead = add(settings, f"http://127.0.0.1:{refused_quickly()}/hook")
    hanging = add(settings, receiver.url("slow"))
    receiver.secrets["slow"] = new_secret()
    receiver.hanging.add("slow")
    record(settings.database_url, "P1", clock.now.date())
    assert relay_now(settings, clock) == Relayed(1, 2)

    assert await lane.round() == 2
    by_endpoint = {d["webhook_endpoint_id"]: d for d in queued(db)}
    assert by_endpoint[dead]["last_error"].startswith("could not connect")
    assert by_endpoint[hanging]["last_error"] == "no answer within 0.5 s"
    assert {(d["status"], d["attempts"]) for d in queued(db)} == {("pending", 1)}
    assert await lane.round() == 0, "nothing is due before the backoff"

    for _attempt in range(2):
        clock.now += timedelta(hours=1)
        assert await lane.round() == 2
    failed = {d["webhook_endpoint_id"]: d for d in queued(db)}
    assert {d["status"] for d in failed.values()} == {"failed"}
    assert failed[hanging]["last_error"] == "gave up after 3 attempt(s): no answer within 0.5 s"
    figures = endpoint_row(db, hanging)
    assert (figures["retry_count"], figures["failed_count"], figures["sent_count"]) == (2, 1, 0)
    assert figures["consecutive_failures"] == 3
    assert figures["disabled_at"] is None, "only 410 disables"
    assert len(receiver.of("slow")) == 3


@pytest.mark.anyio
async def test_a_secret_sealed_under_another_key_is_kept_for_the_operator(
    settings: Settings, clock: Clock, db: sa.Engine, receiver: Receiver
) -> None:
    add(settings, receiver.url("school"))
    record(settings.database_url, "P1", clock.now.date())
    relay_now(settings, clock)
    changed = settings.model_copy(update={"secret_key": SecretStr("another key, just as long")})
    other = Lane(changed, clock)
    try:
        assert await other.round() == 1
    finally:
        await other.close()

    [delivery] = queued(db)
    assert (delivery["status"], delivery["last_error"]) == ("pending", SEALED_KEY_CHANGED)
    assert receiver.of("school") == [], "nothing is sent unsigned"


def _three_events(settings: Settings, clock: Clock) -> None:
    for pupil in ("P1", "P2", "P5"):
        record(settings.database_url, pupil, clock.now.date())
    relay_now(settings, clock)


@pytest.mark.anyio
async def test_an_endpoint_that_refuses_rests_and_what_waits_for_it_is_handed_back(
    settings: Settings, clock: Clock, db: sa.Engine
) -> None:
    add(settings, f"http://127.0.0.1:{refused_quickly()}/hook")
    _three_events(settings, clock)
    one_at_a_time = Lane(settings, clock, webhook_concurrency=2)  # one post per endpoint
    try:
        assert await one_at_a_time.round() == 3
        tried, *untried = queued(db)
        assert (tried["attempts"], tried["last_error"][:17]) == (1, "could not connect")
        assert [(d["status"], d["attempts"], d["last_error"]) for d in untried] == [
            ("pending", 0, None)
        ] * 2, "not tried: the endpoint rests"
        assert {d["next_attempt_at"] for d in untried} == {tried["next_attempt_at"]}
        assert await one_at_a_time.round() == 0, "resting"

        clock.now += timedelta(minutes=1)  # past the first backoff (at most 5 s)
        assert await one_at_a_time.round() == 3
        assert sorted(d["attempts"] for d in queued(db)) == [0, 0, 2]
    finally:
        await one_at_a_time.close()


@pytest.mark.anyio
async def test_410_drops_what_waited_for_the_endpoint_in_the_process(
    settings: Settings, clock: Clock, db: sa.Engine, receiver: Receiver
) -> None:
    receiver.secrets["gone"] = new_secret()
    gone = add(settings, receiver.url("gone"), secret=receiver.secrets["gone"])
    receiver.answers["gone"] = [410]
    _three_events(settings, clock)
    one_at_a_time = Lane(settings, clock, webhook_concurrency=2)
    try:
        assert await one_at_a_time.round() == 3
    finally:
        await one_at_a_time.close()

    assert len(receiver.of("gone")) == 1
    assert [d["status"] for d in queued(db)] == ["failed", "cancelled", "cancelled"]
    assert endpoint_row(db, gone)["disabled_at"] is not None


@pytest.mark.anyio
async def test_a_delivery_that_waited_half_its_lease_is_handed_back_untried(
    settings: Settings, clock: Clock, db: sa.Engine, receiver: Receiver
) -> None:
    """Another process may claim it once the lease runs out: it must not be sent here
    too, late."""
    add(settings, receiver.url("slow"))
    receiver.secrets["slow"] = new_secret()
    receiver.hanging.add("slow")
    _three_events(settings, clock)
    short = Lane(settings, clock, webhook_concurrency=2, outbox_lease_seconds=0.4)
    try:
        assert await short.round() == 3
    finally:
        await short.close()

    assert len(receiver.of("slow")) == 1
    tried, *untried = queued(db)
    assert (tried["attempts"], tried["last_error"]) == (1, "no answer within 0.5 s")
    assert [(d["status"], d["attempts"]) for d in untried] == [("pending", 0)] * 2
