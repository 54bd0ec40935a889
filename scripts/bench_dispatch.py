"""Dispatcher benchmark: how many confirmations a second one dispatcher hands to the
providers, and whether its memory stays flat as it drains a long queue.

    .venv/bin/python scripts/bench_dispatch.py                      # SQLite, 20,000 messages
    .venv/bin/python scripts/bench_dispatch.py --db both --messages 50000 --json out.json
    .venv/bin/python scripts/bench_dispatch.py --profile            # where the time goes

It queues the messages straight into a fresh database (half SMS, half email), starts the
local providers (``python -m ivr.devtools.providers``: the Twilio Messages API and an SMTP
server, in their own process) and drains the outbox with the real dispatcher and gateways
in this process, rate limits off. Target: 500 messages a second or more on two cores.
Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ivr.notify.dispatcher import Dispatcher
from ivr.notify.gateways import build_gateways
from ivr.settings import Settings
from ivr.store import migrate
from ivr.store.db import Database, sync_url
from ivr.store.models import OutboxMessage

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOKEN = "bench-auth-token"  # noqa: S105 - the local providers only
ACCOUNT = "AC" + "b" * 32


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"ivr_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(sync_url(POSTGRES), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sync_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def providers(sms_port: int, smtp_port: int) -> Iterator[dict[str, int]]:
    counts: dict[str, int] = {}
    process = subprocess.Popen(  # noqa: S603 - the project's own module
        [
            sys.executable,
            "-m",
            "ivr.devtools.providers",
            "--sms-port",
            str(sms_port),
            "--smtp-port",
            str(smtp_port),
            "--account-sid",
            ACCOUNT,
            "--auth-token",
            TOKEN,
            "--quiet",
            "--no-delivery-reports",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", sms_port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the local providers did not start") from None
                time.sleep(0.1)
        yield counts
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        last = output.strip().splitlines()[-1] if output.strip() else "{}"
        counts.update(json.loads(last))


def queue(url: str, count: int) -> None:
    engine = sa.create_engine(sync_url(url))
    due = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as connection:
        for start in range(0, count, 5000):
            connection.execute(
                sa.insert(OutboxMessage),
                [
                    {
                        "kind": "confirmation",
                        "recipient": f"bench:{number}",
                        "recipient_name": "Anna Andersson",
                        "channel": "sms" if number % 2 == 0 else "email",
                        "address": (
                            f"+467017406{number % 90 + 10:02d}"
                            if number % 2 == 0
                            else f"guardian{number}@example.com"
                        ),
                        "language": "sv",
                        "subject": None
                        if number % 2 == 0
                        else "Frånvaroanmälan för Alva (K7M4QX2P)",
                        "body": "Alva är frånvaroanmäld hela dagen 25 nov., Solskolan. "
                        "Anmält från 070-174 06 05. Ref K7M4QX2P. Inte du? Ring skolan.",
                        "next_attempt_at": due,
                        "created_at": due,
                        "updated_at": due,
                    }
                    for number in range(start, min(count, start + 5000))
                ],
            )
    engine.dispose()


async def drain(settings: Settings, total: int) -> dict[str, Any]:
    database = Database(settings.database_url, serving=True)
    gateways = build_gateways(settings)
    dispatcher = Dispatcher(database, gateways, settings)
    rss = {"start": rss_mb()}
    marks = {int(total * share): f"{int(share * 100)}%" for share in (0.1, 0.5, 1.0)}
    handled = 0
    started = time.perf_counter()
    while True:
        claimed = await dispatcher.dispatch_once()
        if claimed == 0:
            break
        handled += claimed
        for mark, label in marks.items():
            if handled >= mark and label not in rss:
                rss[label] = rss_mb()
    seconds = time.perf_counter() - started
    for gateway in gateways.values():
        await gateway.close()
    await database.aclose()
    engine = sa.create_engine(sync_url(settings.database_url))
    with engine.connect() as connection:
        query = sa.text("SELECT status, count(*) FROM outbox GROUP BY status")
        statuses: dict[str, int] = dict(connection.execute(query).all())
    engine.dispose()
    return {
        "messages": handled,
        "seconds": round(seconds, 2),
        "messages_per_s": round(handled / seconds, 1),
        "sent": dispatcher.sent,
        "failed": dispatcher.failed,
        "retried": dispatcher.retried,
        "statuses": statuses,
        "rss_mb": {label: round(value, 1) for label, value in rss.items()},
    }


def run(kind: str, count: int, profile: bool) -> dict[str, Any]:
    with database(kind) as url:
        migrate.upgrade(url)
        queue(url, count)
        sms_port, smtp_port = free_port(), free_port()
        settings = Settings(
            _env_file=None,
            database_url=url,
            public_base_url="http://127.0.0.1:9",
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            sms_from="+46701740699",
            twilio_api_base_url=f"http://127.0.0.1:{sms_port}",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_from="franvaro@example.org",
            smtp_starttls=False,
            smtp_connections=8,
            sms_concurrency=50,
            sms_per_second=0,
            email_per_second=0,
            outbox_batch=200,
        )
        with providers(sms_port, smtp_port) as received:
            if profile:
                from pyinstrument import Profiler  # type: ignore[import-not-found]

                profiler = Profiler()
                profiler.start()
                result = asyncio.run(drain(settings, count))
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            else:
                result = asyncio.run(drain(settings, count))
        result["received"] = dict(received)
        result["lost_or_doubled"] = abs(sum(received.values()) - count)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    arguments = parser.parse_args()
    kinds = ["sqlite", "postgres"] if arguments.db == "both" else [arguments.db]
    results = {}
    for kind in kinds:
        results[kind] = run(kind, arguments.messages, arguments.profile)
        figures = results[kind]
        print(
            f"{kind}: {figures['messages']} messages in {figures['seconds']} s = "
            f"{figures['messages_per_s']} messages/s; statuses {figures['statuses']}; "
            f"providers got {figures['received']}; RSS MB {figures['rss_mb']}",
            flush=True,
        )
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2))
    if any(figures["lost_or_doubled"] or figures["failed"] for figures in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    os.environ.pop("IVR_DATABASE_URL", None)
    main()
