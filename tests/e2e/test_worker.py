"""``ivr worker`` as a process: killed with SIGKILL mid-batch, several at once, and
stopped with SIGTERM. What arrives at the providers is counted message by message."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import AUTH_TOKEN, SECRET_KEY
from tests.processes import Worker
from tests.providers import Providers
from tests.records import outbox, queue_messages


def _environment(database_url: str, providers: Providers, **extra: Any) -> dict[str, str]:
    settings = providers.settings(
        outbox_lease_seconds=2, sms_per_second=0, email_per_second=0, **extra
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    environment |= {f"IVR_{name.upper()}": str(value) for name, value in settings.items()}
    environment |= {
        "IVR_DATABASE_URL": database_url,
        "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_SECRET_KEY": SECRET_KEY,
    }
    return environment


@pytest.fixture
def start_worker(
    database_url: str, providers: Providers, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**extra: Any) -> Worker:
        log = tmp_path / f"worker{len(started)}.log"
        worker = Worker(_environment(database_url, providers, **extra), log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait(timeout=10)


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)


def test_a_worker_killed_mid_batch_loses_nothing(
    db: sa.Engine, providers: Providers, start_worker: Callable[..., Worker]
) -> None:
    bodies = queue_messages(db, 120)
    providers.twilio.delay_seconds = 0.05
    worker = start_worker(outbox_batch=40, sms_concurrency=10)
    _wait_for(lambda: len(providers.twilio.messages) >= 30)

    worker.stop(signal.SIGKILL)
    received_at_kill = Counter(message["Body"] for message in providers.twilio.messages)
    in_flight = {m["body"] for m in outbox(db) if m["status"] == "sending"}
    assert len(received_at_kill) < len(bodies), "the worker died with work left"

    start_worker()
    _wait_for(lambda: {m["status"] for m in outbox(db)} == {"sent"})

    received = Counter(message["Body"] for message in providers.twilio.messages)
    assert set(received) == set(bodies), "every message arrived"
    doubled = {body for body, count in received.items() if count > 1}
    assert all(count <= 2 for count in received.values())
    assert doubled <= in_flight, "only a message in flight at the kill can arrive twice"
    assert all(m["attempts"] <= 2 for m in outbox(db))


def test_two_workers_at_once_send_each_message_once(
    db: sa.Engine, providers: Providers, start_worker: Callable[..., Worker]
) -> None:
    sms = queue_messages(db, 150)
    email = queue_messages(db, 50, channel="email")
    providers.twilio.delay_seconds = 0.01
    workers = [start_worker(outbox_batch=10), start_worker(outbox_batch=10)]

    _wait_for(lambda: {m["status"] for m in outbox(db)} == {"sent"})
    summaries = [worker.stop() for worker in workers]

    assert sorted(message["Body"] for message in providers.twilio.messages) == sorted(sms)
    assert sorted(message.get_content().strip() for message in providers.sink.messages) == sorted(
        email
    )
    assert all(m["attempts"] == 1 for m in outbox(db))
    sent_by = [int(summary.split("Worker stopped: ")[1].split(" sent")[0]) for summary in summaries]
    assert sum(sent_by) == 200
    assert all(count > 0 for count in sent_by), f"both workers took a share: {sent_by}"


def test_sigterm_finishes_what_is_started_and_hands_back_the_rest(
    db: sa.Engine, providers: Providers, start_worker: Callable[..., Worker]
) -> None:
    bodies = queue_messages(db, 20, channel="email")
    providers.sink.delay_seconds = 0.5
    worker = start_worker(smtp_connections=2, outbox_batch=20)
    _wait_for(lambda: any(m["status"] == "sending" for m in outbox(db)))
    time.sleep(0.2)

    output = worker.stop()

    assert worker.returncode == 0, output
    statuses = Counter(m["status"] for m in outbox(db))
    assert statuses["sending"] == 0, "no message is left claimed"
    assert 1 <= statuses["sent"] < len(bodies)
    assert statuses["sent"] + statuses["pending"] == len(bodies)
    assert len(providers.sink.messages) == statuses["sent"]
    assert all(m["attempts"] == 0 for m in outbox(db) if m["status"] == "pending")
    assert "Worker stopped:" in output


def test_without_credentials_the_worker_says_it_only_logs(
    database_url: str, tmp_path: Path
) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    worker = Worker(environment | {"IVR_DATABASE_URL": database_url}, tmp_path / "worker.log")
    _wait_for(lambda: "email is only logged" in worker.log.read_text())
    output = worker.stop()
    assert "development gateway: sms is only logged" in output
    assert "development gateway: email is only logged" in output
