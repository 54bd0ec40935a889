"""Absence webhooks end to end: a report's changes reach a school's endpoint (a local
receiver that verifies every signature with the standardwebhooks library), once, signed,
retried with the same id, never holding up the guardians' confirmations."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import WebhookVerificationError

from ivr.devtools.providers import HttpServer
from ivr.services.absence_json import Absence
from ivr.services.webhooks import new_secret
from tests.calls import place_call
from tests.cli import ivr
from tests.clock import Clock
from tests.conftest import LiveServer, free_port
from tests.providers import Providers
from tests.records import rows
from tests.roster_data import ALVA
from tests.staff import Staff, record
from tests.webhook_receiver import Arrival, Receiver, verify, wait_until

# How long the line waits for an endpoint: longer than any test waits for one that hangs.
TIMEOUT = 15.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server = HttpServer(receiver.app(), free_port())
    receiver.server.start()
    yield receiver
    receiver.let_go.set()
    receiver.server.stop()


@pytest.fixture
def server_settings(providers: Providers, receiver: Receiver) -> dict[str, Any]:
    return providers.settings(dispatcher="on", webhook_timeout_seconds=TIMEOUT)


def register(receiver: Receiver, name: str, *options: str) -> int:
    """``ivr webhook add`` for ``/name`` of the receiver, which gets the printed secret."""
    code, output = ivr("webhook", "add", receiver.url(name), "--org", "Testkommun", *options)
    assert code == 0, output
    receiver.secrets[name] = output.strip().splitlines()[-1]
    found = re.search(r"Webhook endpoint (\d+)", output)
    assert found is not None
    return int(found[1])


def endpoint(db: sa.Engine, endpoint_id: int) -> dict[str, Any]:
    [row] = rows(db, "SELECT * FROM webhook_endpoints WHERE id = :id", id=endpoint_id)
    return row


def deliveries(db: sa.Engine, endpoint_id: int) -> list[dict[str, Any]]:
    return rows(
        db, "SELECT * FROM outbox WHERE webhook_endpoint_id = :id ORDER BY id", id=endpoint_id
    )


def event_id(db: sa.Engine, reference: str, kind: str) -> int:
    [row] = rows(
        db,
        "SELECT e.id FROM feed_events e JOIN absences a ON a.id = e.absence_id "
        "WHERE a.reference = :reference AND e.kind = :kind",
        reference=reference,
        kind=kind,
    )
    return int(row["id"])


def settle(db: sa.Engine, endpoint_id: int) -> list[dict[str, Any]]:
    """The endpoint's deliveries once none is waiting or being sent."""
    wait_until(
        lambda: (
            bool(found := deliveries(db, endpoint_id))
            and all(d["status"] not in ("pending", "sending") for d in found)
        )
    )
    return deliveries(db, endpoint_id)


def test_a_call_arrives_once_as_absence_recorded(
    live_server: LiveServer,
    receiver: Receiver,
    cli_env: str,
    db: sa.Engine,
    solskolan: Staff,
    clock: Clock,
) -> None:
    school = register(receiver, "school")

    [reference] = place_call(live_server, ALVA, "9").references
    [arrival] = receiver.wait_for("school", 1)

    assert arrival.verified, arrival.refusal
    event = arrival.event
    assert event["type"] == "absence.recorded"
    assert event["timestamp"].endswith("+01:00"), "the organisation's time, with offset"
    assert arrival.webhook_id == f"msg_{school}_{event_id(db, reference, 'reported')}"
    assert arrival.headers["webhook-timestamp"] == str(int(clock().timestamp()))
    assert arrival.headers["content-type"] == "application/json"
    data = Absence.model_validate(event["data"]).model_dump(mode="json")
    assert data == event["data"], "the feed API's schema, whole"
    api = solskolan.get(f"/api/v1/absences/{reference}").json()
    assert {k: v for k, v in data.items() if k != "confirmations"} == {
        k: v for k, v in api.items() if k != "confirmations"
    }
    assert [(m["recipient"], m["channel"], m["to"]) for m in data["confirmations"]] == [
        (m["recipient"], m["channel"], m["to"]) for m in api["confirmations"]
    ], "the same confirmations (sent by now, pending then)"
    assert (data["pupil_id"], data["status"], data["whole_days"]) == ("P1", "active", True)

    [delivered] = settle(db, school)
    assert (delivered["status"], delivered["attempts"]) == ("sent", 1)
    assert delivered["provider_id"] == arrival.webhook_id
    time.sleep(0.5)  # ten more rounds of the relay and the lane
    assert len(receiver.of("school")) == 1, "once"
    assert endpoint(db, school)["last_success_at"] is not None


def test_acknowledged_and_cancelled_arrive_and_each_endpoint_gets_what_it_asked_for(
    live_server: LiveServer,
    receiver: Receiver,
    cli_env: str,
    db: sa.Engine,
    solskolan: Staff,
    clock: Clock,
) -> None:
    register(receiver, "all")
    register(receiver, "cancellations", "--event", "cancelled")
    code, output = ivr("webhook", "add", receiver.url("elsewhere"), "--org", "Andra kommun")
    assert code == 0, output
    receiver.secrets["elsewhere"] = output.strip().splitlines()[-1]
    reference = record(live_server.settings.database_url, "P2", clock.now.date())

    receiver.wait_for("all", 1)
    assert solskolan.acknowledge(reference).status_code == 200
    receiver.wait_for("all", 2)
    assert solskolan.cancel(reference, "fel elev").status_code == 200
    arrivals = receiver.wait_for("all", 3)

    assert all(arrival.verified for arrival in arrivals)
    by_type = {arrival.event["type"]: arrival.event for arrival in arrivals}
    assert list(by_type) == ["absence.recorded", "absence.acknowledged", "absence.cancelled"]
    assert by_type["absence.acknowledged"]["data"]["acknowledged"]["by"] == "Solskolan"
    cancelled = by_type["absence.cancelled"]["data"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled"]["reason"] == "fel elev"
    assert len({arrival.webhook_id for arrival in arrivals}) == 3

    [only] = receiver.wait_for("cancellations", 1)
    assert only.verified and only.event["type"] == "absence.cancelled"
    time.sleep(0.5)
    assert len(receiver.of("cancellations")) == 1
    assert receiver.of("elsewhere") == [], "another organisation's endpoint hears nothing"


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(
    live_server: LiveServer, receiver: Receiver, cli_env: str, db: sa.Engine, clock: Clock
) -> None:
    flaky = register(receiver, "flaky")
    receiver.answers["flaky"] = [500]
    record(live_server.settings.database_url, "P1", clock.now.date())

    [first] = receiver.wait_for("flaky", 1)
    waiting = wait_until(
        lambda: [d for d in deliveries(db, flaky) if d["status"] == "pending" and d["attempts"]]
    )
    assert waiting[0]["last_error"] == "HTTP 500"
    figures = endpoint(db, flaky)
    assert (figures["consecutive_failures"], figures["last_error"]) == (1, "HTTP 500")
    assert figures["last_success_at"] is None

    clock.now += timedelta(seconds=10)  # past the first backoff (at most 5 s)
    first_again, second = receiver.wait_for("flaky", 2)

    assert first_again == first
    assert first.verified and second.verified
    assert second.webhook_id == first.webhook_id, "a receiver drops a repeat by it"
    assert second.body == first.body
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 10
    [delivered] = settle(db, flaky)
    assert (delivered["status"], delivered["attempts"]) == ("sent", 2)
    figures = endpoint(db, flaky)
    assert figures["consecutive_failures"] == 0
    assert (figures["sent_count"], figures["retry_count"], figures["failed_count"]) == (1, 1, 0)
    assert figures["last_error"] == "HTTP 500", "kept, beside the last success"
    assert figures["last_success_at"] is not None

    scraped = httpx.get(f"{live_server.url}/metrics").text
    assert f'ivr_webhook_deliveries_total{{endpoint="{flaky}",outcome="sent"}} 1.0' in scraped
    assert f'ivr_webhook_deliveries_total{{endpoint="{flaky}",outcome="retry"}} 1.0' in scraped
    assert f'ivr_webhook_pending{{endpoint="{flaky}"}} 0.0' in scraped


def test_410_gone_disables_the_endpoint(
    live_server: LiveServer, receiver: Receiver, cli_env: str, db: sa.Engine, clock: Clock
) -> None:
    gone = register(receiver, "gone")
    register(receiver, "control")
    receiver.answers["gone"] = [410]
    database_url = live_server.settings.database_url
    record(database_url, "P1", clock.now.date())
    receiver.wait_for("gone", 1)
    receiver.wait_for("control", 1)

    [failed] = settle(db, gone)
    assert failed["status"] == "failed" and failed["last_error"].startswith("410 Gone")
    figures = endpoint(db, gone)
    assert figures["disabled_at"] is not None
    assert figures["disabled_reason"].startswith("410 Gone")

    record(database_url, "P2", clock.now.date())
    receiver.wait_for("control", 2)
    time.sleep(0.3)
    assert len(receiver.of("gone")) == 1, "a disabled endpoint is sent nothing more"
    assert len(deliveries(db, gone)) == 1, "nor queued anything"
    code, output = ivr("webhook", "list")
    assert code == 0 and "disabled" in output and "410 Gone" in output


def test_a_hanging_endpoint_holds_up_no_confirmation_nor_other_endpoint(
    live_server: LiveServer,
    receiver: Receiver,
    providers: Providers,
    cli_env: str,
    db: sa.Engine,
    clock: Clock,
) -> None:
    slow = register(receiver, "slow")
    register(receiver, "fast")
    receiver.hanging.add("slow")
    tomorrow = clock.now.date() + timedelta(days=1)
    for pupil in ("P1", "P2", "P4", "P5"):
        record(live_server.settings.database_url, pupil, tomorrow, reported_at=clock.now)
    receiver.wait_for("slow", 4)  # every one hanging: half the lane's room, its share
    receiver.wait_for("fast", 4)
    wait_until(lambda: len(providers.twilio.messages) == 5 and len(providers.sink.messages) == 4)

    started = time.monotonic()
    [reference] = place_call(live_server, ALVA, "9").references
    wait_until(
        lambda: (
            sum(reference in m["Body"] for m in providers.twilio.messages) == 2
            and sum(reference in str(m["Subject"]) for m in providers.sink.messages) == 2
        )
    )
    confirmed = time.monotonic() - started
    # The other endpoint gets the call's event too (on PostgreSQL the relay waits for the
    # cluster's older transactions, so this is not timed).
    [*_, last] = receiver.wait_for("fast", 5)

    assert confirmed < 3.0, f"confirmations took {confirmed:.2f} s"
    assert last.event["data"]["reference"] == reference
    assert len(receiver.of("slow")) == 4, "still hanging, and no fifth one to the same endpoint"

    receiver.let_go.set()
    wait_until(lambda: len(receiver.of("slow")) == 5)
    figures = wait_until(lambda: (e := endpoint(db, slow))["consecutive_failures"] >= 4 and e)
    assert figures["last_error"] == "HTTP 503"


def test_a_signature_under_another_secret_is_refused_by_the_receiver(
    live_server: LiveServer, receiver: Receiver, cli_env: str, db: sa.Engine, clock: Clock
) -> None:
    """The receiver's check can fail: it refuses what the endpoint's secret did not sign,
    and what was changed on the way."""
    genuine = register(receiver, "genuine")
    forged = register(receiver, "forged")
    receiver.secrets["forged"] = new_secret()  # not the one the line signs with
    record(live_server.settings.database_url, "P1", clock.now.date())

    [good] = receiver.wait_for("genuine", 1)
    [bad] = receiver.wait_for("forged", 1)

    assert good.verified
    assert not bad.verified and "No matching signature" in str(bad.refusal)
    refused = wait_until(lambda: endpoint(db, forged)["last_error"])
    assert refused == "HTTP 401"
    assert endpoint(db, genuine)["consecutive_failures"] == 0

    secret = receiver.secrets["genuine"]
    verify(secret, good)
    tampered = good.body.replace(b'"P1"', b'"P2"')
    assert tampered != good.body
    for changed in (
        Arrival("genuine", good.headers, tampered, True, None),
        Arrival("genuine", {**good.headers, "webhook-id": "msg_other"}, good.body, True, None),
        Arrival(
            "genuine",
            {**good.headers, "webhook-timestamp": str(int(clock().timestamp()) + 1)},
            good.body,
            True,
            None,
        ),
    ):
        with pytest.raises(WebhookVerificationError):
            verify(secret, changed)
    clock.now += timedelta(minutes=6)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, good)


def test_webhook_test_sends_a_signed_test_event_through_the_dispatcher(
    live_server: LiveServer, receiver: Receiver, cli_env: str, db: sa.Engine
) -> None:
    school = register(receiver, "school")
    code, output = ivr("webhook", "test", str(school), "--wait", "10")
    assert code == 0, output
    assert "The receiver took the test event: HTTP 204." in output
    [arrival] = receiver.of("school")
    assert arrival.verified
    assert arrival.event["type"] == "webhook.test"
    assert arrival.event["data"] == {"endpoint": school, "organisation": "Testkommun"}

    receiver.answers["school"] = [500]
    code, output = ivr("webhook", "test", str(school), "--wait", "10")
    assert code == 1
    assert "the test event was not taken: HTTP 500" in output
    assert len(receiver.of("school")) == 2, "tried once"
