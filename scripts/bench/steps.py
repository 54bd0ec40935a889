"""What each kind of webhook costs the server, and how many of them needed the database.

After the load, calls are placed a kind of webhook at a time, by as many callers at once as
the load had, and the server's CPU (from /proc) is read before and after each kind: the
incoming call, the personal number, a date or time (or 9), the keys that record the report,
and the status callback. Each report is for a day the load never reported (five weeks
ahead and more), so every one is recorded. On SQLite the dispatcher in the same process
sends confirmations while the reports are made: its share lands on the report.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta

import holidays

from bench.client import _ACTION, Connection, RequestFailed, Signer
from bench.config import ACCOUNT_SID, AUTH_TOKEN, HOST, LINE_NUMBER, SATURDAY
from bench.roster import guardian_phone, personal_number
from bench.sampling import server_cpu

STEP_CALLS = 1_500
KINDS = ("incoming", "personal number", "date or time", "record", "status")
_METRIC = re.compile(r"^(ivr_webhooks(?:_database)?_total)\{[^}]*\} ([0-9.e+]+)$", re.M)


def database_share(port: int) -> dict[str, float]:
    """Webhooks answered and those that needed the database, from the server's metrics."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    totals = {"ivr_webhooks_total": 0.0, "ivr_webhooks_database_total": 0.0}
    for name, value in _METRIC.findall(text):
        totals[name] += float(value)
    webhooks, with_database = totals["ivr_webhooks_total"], totals["ivr_webhooks_database_total"]
    return {
        "webhooks": webhooks,
        "with_database": with_database,
        "share": with_database / webhooks if webhooks else 0.0,
    }


def _school_days_ahead(today: date, first: int, count: int) -> list[date]:
    public = holidays.country_holidays("SE", years=range(today.year, today.year + 2))
    days = (today + timedelta(days=n) for n in range(first, first + 3 * count))
    return [day for day in days if day.weekday() < SATURDAY and day not in public][:count]


class _Call:
    def __init__(self, pupil: int) -> None:
        self.sid = "CA" + secrets.token_hex(16)
        self.common = [
            ("CallSid", self.sid),
            ("AccountSid", ACCOUNT_SID),
            ("From", guardian_phone(pupil)),
            ("To", LINE_NUMBER),
        ]
        self.action = ""


Webhook = tuple[_Call, str | None, str | None, str]
"""A call, where to post (None: the action its last answer named), the keys (None: no
``Digits``), and the ``CallStatus``."""


async def cpu_by_step(
    port: int,
    server_pid: int,
    pupils: int,
    today: date,
    calls: int = STEP_CALLS,
    concurrency: int = 32,
) -> dict[str, float]:
    """Server CPU in milliseconds per webhook, by kind of webhook."""
    signer = Signer(AUTH_TOKEN, f"http://{HOST}:{port}")
    lanes = [Connection(port, signer, timeout=10) for _ in range(concurrency)]
    days = _school_days_ahead(today, 36, 20)
    placed = [(_Call(index % pupils), index) for index in range(calls)]
    figures: dict[str, float] = {}

    async def lane(connection: Connection, kind: str, webhooks: list[Webhook]) -> None:
        for call, target, keys, status in webhooks:
            params = [*call.common, ("CallStatus", status)]
            if keys is not None:
                params.append(("Digits", keys))
            reply = await connection.post(target or call.action, params)
            if reply.status not in (200, 204):
                raise RequestFailed(f"http {reply.status} at {kind}")
            if match := _ACTION.search(reply.body):
                call.action = match.group(1).decode("ascii")
            if kind == "record" and reply.reference is None:
                raise RequestFailed(f"no report recorded: {reply.body[:200]!r}")

    async def measured(kind: str, per_call: Callable[[_Call, int], list[Webhook]]) -> None:
        """Each lane takes every ``concurrency``-th call, its webhooks of this kind in order."""
        work = [
            [webhook for call, index in placed[n::concurrency] for webhook in per_call(call, index)]
            for n in range(concurrency)
        ]
        before = server_cpu(server_pid) or 0.0
        await asyncio.gather(*(lane(lanes[n], kind, work[n]) for n in range(concurrency)))
        count = sum(len(webhooks) for webhooks in work)
        figures[kind] = ((server_cpu(server_pid) or 0.0) - before) * 1000 / count

    def day_of(index: int) -> str:
        return days[(index // pupils) % len(days)].strftime("%y%m%d")

    await measured("incoming", lambda call, _i: [(call, "/twilio/voice", None, "ringing")])
    await measured(
        "personal number", lambda call, i: [(call, None, personal_number(i)[2:], "in-progress")]
    )
    await measured(
        "date or time",
        lambda call, i: [(call, None, keys, "in-progress") for keys in (day_of(i), "9", "9")],
    )
    await measured("record", lambda call, _i: [(call, None, "9", "in-progress")])
    await measured("status", lambda call, _i: [(call, "/twilio/voice/status", None, "completed")])
    for connection in lanes:
        connection.close()
    return figures
