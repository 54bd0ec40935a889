"""Load benchmark of the absence line: whole calls over the real webhook protocol.

Run from the repository root::

    .venv/bin/python scripts/bench.py                      # SQLite, 10,000 pupils, 20 s
    .venv/bin/python scripts/bench.py --db both --json bench-results/run.json
    .venv/bin/python scripts/bench.py --quick --db both    # smoke test, under a minute
    .venv/bin/python scripts/bench.py --rate 500 --db both # latency at 500 webhooks/s
    .venv/bin/python scripts/bench.py --memory-check       # 100,000 calls: RSS at 20k and 100k
    .venv/bin/python scripts/bench.py --pupils-compare     # personal-number step, 10k vs 1M pupils
    .venv/bin/python scripts/bench.py --import-only --pupils 66667   # about 100,000 rows

For each database (``--db sqlite``, ``postgres`` or ``both``) the script creates a fresh
database (SQLite: a file in a temporary directory; PostgreSQL: ``ivr_bench_<random>`` on the
server of ``--postgres-url``, dropped at the end), writes a roster CSV of ``--pupils`` pupils
with synthetic but valid personal numbers (born 2008-2020, unique, Luhn-checked; they exist
only in these throwaway databases), and loads it with the real command line (``ivr org add``,
``ivr number add``, ``ivr roster import``), timing the import. Each pupil has one guardian
with a phone number from the fictional range +46 70-174 06 05..99 (so these few guardians
share many pupils) and every other pupil a second guardian with an email address only: each
absence queues two or three confirmations. ``--import-chunk N`` imports N pupils per run of
``ivr roster import``; on PostgreSQL the planner statistics are refreshed (``ANALYZE``, as
autovacuum would) after the import and between the files.

It then starts ``ivr serve --workers 1`` (``--server-env`` adds settings) and lets
``--concurrency`` simulated callers place complete calls, each on its own keep-alive
connection: the incoming-call webhook, one webhook per prompt (following the prompt number in
the ``<Gather action>`` of each answer), and the status callback, every request signed as
Twilio signs it. The mix of calls::

    50%  whole day today     PN 9
    15%  another whole day   PN D 9 9 9
    10%  part of a day       PN D 1000 9 1230
    10%  several days        PN D 9 D+2 9
     5%  help first          # PN 9   or   PN # 9
     5%  a wrong entry       PN 5 9
     5%  start over          PN D * PN 9

PN is the ten-digit personal number of a random pupil, D a school day (a weekday that is no
Swedish public holiday) 1-30 days ahead; the caller is the pupil's first guardian and hangs
up once the absence is recorded. Should the line ask about a period without a school day
(today, on a weekend), the caller keeps the report with 9. Afterwards the
database must hold exactly the absences whose references the callers were given (each for
its call and pupil, none lost or doubled), their confirmations in the outbox, and every call
whose status callback was accepted as completed.

The same load generator first drives ``scripts/bare_app.py``, FastAPI on uvicorn parsing the
form and answering constant TwiML: the ceiling of any webhook server on this stack.

Targets:

* the load generator drives the bare app at 5,000 requests/s or more (2 cores, shared);
* a roster import of 100,000 rows takes under 60 s;
* the server's RSS after 100,000 calls is within 10% of its RSS after 20,000 (``--memory-check``);
* the p99 latency of the personal-number step with 1,000,000 pupils is within 20% of that
  with 10,000 (``--pupils-compare``; the rosters are imported 50,000 pupils per file).

The exit status is 0 if no request failed and the database matched what the callers saw,
1 if not, 2 if the benchmark could not run and 130 if it was interrupted. ``--json FILE`` writes
``settings`` (including the git commit of the code), ``baseline`` (the bare app) and
``databases``, keyed by database (``sqlite``, ``postgres``; ``sqlite-1000000`` and so on with
``--pupils-compare``), each with ``rps`` (webhooks/s), ``baseline_rps``, ``ratio``,
``p50_ms``, ``p99_ms``, ``errors``, ``rss_mb`` (peak), ``calls_per_s``, ``import_seconds``,
``import_rows_per_s``, ``pupils``, ``concurrency``, the server's CPU per webhook, latencies
per step, RSS samples and the database check; ``--pupils-compare`` adds ``pupils_compare``.
The CPU columns tell whether other work on the machine disturbed a run.

Everything listens on 127.0.0.1 only. Server processes are stopped and temporary databases
removed when the run ends, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import hashlib
import hmac
import http.client
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

import holidays
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from stdnum import luhn

from ivr.roster.csv_file import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

SCRIPTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
IVR = BIN / "ivr"
HOST = "127.0.0.1"

ORGANISATION = "Benchkommun"
LINE_NUMBER = "+46846500400"
TIMEZONE = "Europe/Stockholm"
AUTH_TOKEN = "bench-auth-token-" + secrets.token_hex(8)
SECRET_KEY = "bench-secret-key-" + secrets.token_hex(16)
ACCOUNT_SID = "AC" + "b" * 32
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Swedish numbers set aside for fiction (PTS): +46 70-174 06 05 to +46 70-174 06 99.
FICTIONAL_PHONES = tuple(f"+46701740{n:03d}" for n in range(605, 700))
BIRTH_FROM = date(2008, 1, 1)
BIRTH_DAYS = (date(2021, 1, 1) - BIRTH_FROM).days
NUMBER_SLOTS = BIRTH_DAYS * 1000  # birth date x three-digit serial
NUMBER_STRIDE = 1_000_003  # prime, not a factor of NUMBER_SLOTS: i -> slot is a bijection
PUPILS_PER_SCHOOL = 500
SATURDAY = 5
# The roster file format the line reads (README, "Roster CSV").
CSV_HEADER = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
FIRST_NAMES = (
    "Alice", "Astrid", "Ebba", "Elsa", "Freja", "Hugo", "Liam", "Lucas", "Maja", "Noah",
    "Oscar", "Saga", "Vera", "William", "Åsa", "Ines", "Omar", "Leo", "Selma", "Ture",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Lindström", "Åberg", "Öberg", "Hassan", "Berg",
)  # fmt: skip
GUARDIAN_LANGUAGES = ("", "", "", "", "", "", "", "en", "", "nb")

QUICK_PUPILS, QUICK_SECONDS, QUICK_CONCURRENCY, QUICK_WARMUP = 1_000, 5.0, 8, 1.0
COMPARE_PUPILS = (10_000, 1_000_000)
COMPARE_IMPORT_CHUNK = 50_000
MEMORY_CHECKPOINTS = (20_000, 100_000)
LOADGEN_TARGET_RPS = 5_000
IMPORT_TARGET_ROWS, IMPORT_TARGET_SECONDS = 100_000, 60.0
MEMORY_TARGET = 0.10
COMPARE_TARGET = 0.20

console = Console()
if not console.is_terminal:
    console.width = max(console.width, 140)
_T = TypeVar("_T")


# --- the roster ----------------------------------------------------------------------------


def personal_number(index: int) -> str:
    """Pupil ``index``'s personal number, ``YYYYMMDDNNNC``: born 2008-2020, valid check digit,
    unique for every index below ``NUMBER_SLOTS``."""
    slot = (index * NUMBER_STRIDE) % NUMBER_SLOTS
    born = BIRTH_FROM + timedelta(days=slot // 1000)
    nine = f"{born:%y%m%d}{slot % 1000:03d}"
    return f"{born.year // 100}{nine}{luhn.calc_check_digit(nine)}"


def guardian_phone(index: int) -> str:
    """The phone of pupil ``index``'s first guardian, who places the calls."""
    return FICTIONAL_PHONES[(index * 37) % len(FICTIONAL_PHONES)]


def has_second_guardian(index: int) -> bool:
    return index % 2 == 0


def expected_confirmations(index: int) -> int:
    """Outbox rows per absence: SMS and email to the first guardian, email to the second."""
    return 2 + has_second_guardian(index)


def pupil_external_id(index: int) -> str:
    return f"B{index:07d}"


def _phone_guardian(phone: str) -> tuple[str, str, str, str]:
    """A guardian is known by phone number, so everything about one follows from it."""
    n = int(phone[-3:])
    name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n % len(LAST_NAMES)]}"
    return name, phone, f"guardian{n}@example.com", GUARDIAN_LANGUAGES[n % 10]


def write_roster(path: Path, first: int, end: int) -> int:
    """Stream pupils ``first`` to ``end - 1`` into a roster CSV; returns its data rows."""
    guardians = {phone: _phone_guardian(phone) for phone in FICTIONAL_PHONES}
    rows = 0
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        for index in range(first, end):
            first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
            last_name = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            pupil = (
                f"School {index // PUPILS_PER_SCHOOL + 1}",
                pupil_external_id(index),
                personal_number(index),
                first_name,
                last_name,
                f"{index % 9 + 1}{'ABCD'[(index // 9) % 4]}",
            )
            writer.writerow((*pupil, *guardians[guardian_phone(index)], "", ""))
            rows += 1
            if has_second_guardian(index):
                second = (f"Guardian {index} {last_name}", "", f"g{index}@example.com", "")
                writer.writerow((*pupil, *second, "", ""))
                rows += 1
    return rows


# --- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Script:
    """What a caller keys at each prompt in turn, and the kind of each entry."""

    path: str
    keys: tuple[str, ...]
    kinds: tuple[str, ...]


KIND_NUMBER, KIND_RECORD, KIND_OTHER = "personal number", "records absence", "other keys"


class CallPlanner:
    """Draws calls: a pupil, the path through the line and the keys for it."""

    PATHS = (
        ("today", 50),
        ("other day", 15),
        ("part of a day", 10),
        ("several days", 10),
        ("help", 5),
        ("wrong entry", 5),
        ("start over", 5),
    )

    def __init__(self, pupils: int, today: date) -> None:
        self.pupils = pupils
        self.days = [(today + timedelta(days=n)).strftime("%y%m%d") for n in range(33)]
        public = holidays.country_holidays("SE", years=range(today.year, today.year + 2))
        self.school_days = [
            n
            for n in range(1, 31)
            if (day := today + timedelta(days=n)).weekday() < SATURDAY and day not in public
        ]
        weights = [weight for _name, weight in self.PATHS]
        self.names = [name for name, _weight in self.PATHS]
        self.cumulative = [sum(weights[: n + 1]) for n in range(len(weights))]

    def draw(self, rng: random.Random) -> tuple[int, Script]:
        index = rng.randrange(self.pupils)
        pn = personal_number(index)[2:]
        path = rng.choices(self.names, cum_weights=self.cumulative)[0]
        offset = rng.choice(self.school_days)
        day, later = self.days[offset], self.days[offset + 2]
        n, r, o = KIND_NUMBER, KIND_RECORD, KIND_OTHER
        keys: tuple[str, ...]
        kinds: tuple[str, ...]
        if path == "today":
            keys, kinds = (pn, "9"), (n, r)
        elif path == "other day":
            keys, kinds = (pn, day, "9", "9", "9"), (n, o, o, o, r)
        elif path == "part of a day":
            keys, kinds = (pn, day, "1000", "9", "1230"), (n, o, o, o, r)
        elif path == "several days":
            keys, kinds = (pn, day, "9", later, "9"), (n, o, o, o, r)
        elif path == "help":
            if rng.random() < 0.5:
                keys, kinds = ("#", pn, "9"), (o, n, r)
            else:
                keys, kinds = (pn, "#", "9"), (n, o, r)
        elif path == "wrong entry":
            keys, kinds = (pn, "5", "9"), (n, o, r)
        else:
            keys, kinds = (pn, day, "*", pn, "9"), (n, o, o, n, r)
        return index, Script(path, keys, kinds)


# --- the HTTP client -------------------------------------------------------------------------

_ACTION_PROMPT = re.compile(rb'action="[^"]*prompt=(\d+)"')
_ONE_KEY_GATHER = re.compile(rb'<Gather[^>]*numDigits="1"')
KEEP_KEY = "9"
_FORM_ESCAPES = str.maketrans(
    {"%": "%25", "+": "%2B", "#": "%23", "*": "%2A", "&": "%26", "=": "%3D", " ": "+"}
)


class Signer:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL and the sorted name+value pairs."""

    def __init__(self, auth_token: str, base_url: str) -> None:
        self._mac = hmac.new(auth_token.encode(), digestmod=hashlib.sha1)
        self.base_url = base_url

    def sign(self, target: str, params: Sequence[tuple[str, str]]) -> str:
        mac = self._mac.copy()
        mac.update((self.base_url + target + "".join(k + v for k, v in sorted(params))).encode())
        return base64.b64encode(mac.digest()).decode()


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    reference: str | None


class RequestFailed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Connection:
    """One keep-alive HTTP/1.1 connection: hand-written requests, responses by length.

    A request that finds its kept-alive connection closed by the server before a byte of
    the answer came (the server drops a connection after an unhandled error) is sent once
    more on a new connection, as HTTP clients do: the server never read it."""

    def __init__(self, port: int, signer: Signer, timeout: float) -> None:
        self.port = port
        self.signer = signer
        self.timeout = timeout
        self.host_header = f"Host: {HOST}:{port}\r\n"
        self.reconnects = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._answered = 0

    async def post(self, target: str, params: Sequence[tuple[str, str]]) -> Reply:
        body = "&".join(f"{k}={v.translate(_FORM_ESCAPES)}" for k, v in params).encode()
        request = (
            f"POST {target} HTTP/1.1\r\n{self.host_header}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {self.signer.sign(target, params)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._exchange(request)
                except (ConnectionError, asyncio.IncompleteReadError) as error:
                    stale = self._answered > 0 and not getattr(error, "partial", b"")
                    if not stale:
                        raise
                    self.close()
                    self.reconnects += 1
                    return await self._exchange(request)
        except TimeoutError:
            self.close()
            raise RequestFailed("timeout") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            raise RequestFailed("connection") from None

    async def _exchange(self, request: bytes) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self.port)
            self._answered = 0
        assert self._reader is not None
        self._writer.write(request)
        reply = await self._read(self._reader)
        self._answered += 1
        return reply

    async def _read(self, reader: asyncio.StreamReader) -> Reply:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0][9:12])
        length, reference, close, chunked = 0, None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"x-absence-reference":
                reference = value.strip().decode()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if chunked:
            body = await self._read_chunks(reader)
        else:
            body = await reader.readexactly(length) if length else b""
        if close:
            self.close()
        return Reply(status, body, reference)

    @staticmethod
    async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._answered = 0


# --- load ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadPlan:
    concurrency: int
    seconds: float
    calls: int | None
    warmup: float
    timeout: float
    checkpoints: tuple[int, ...] = ()
    rate: float | None = None


class Pacer:
    """Webhooks at ``rate`` a second, evenly spaced, whatever the server's speed (as long
    as a caller is free to send): the latency at a given load rather than at saturation."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.perf_counter()

    async def wait(self) -> None:
        now = time.perf_counter()
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(frozen=True, slots=True)
class Recorded:
    """An absence a caller was told about: its reference came with the last keys."""

    call_sid: str
    pupil: int


@dataclass
class LoadResult:
    label: str
    seconds: float = 0.0
    requests: int = 0
    calls: int = 0
    calls_total: int = 0
    by_step: dict[str, list[float]] = field(default_factory=dict)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    by_path: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)
    recorded: dict[str, Recorded] = field(default_factory=dict)
    duplicate_references: int = 0
    reconnects: int = 0
    days_off_kept: int = 0
    statuses_accepted: int = 0
    rss_samples: list[tuple[float, int, float]] = field(default_factory=list)
    rss_at_calls: dict[int, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    machine_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def other_cpu_share(self) -> float:
        """Cores busy with anything but the server and the load generator (a PostgreSQL
        server, or other work on the machine that disturbs the measurement)."""
        if not self.seconds:
            return 0.0
        ours = self.client_cpu_s + (self.server_cpu_s or 0.0)
        return max(0.0, self.machine_cpu_s - ours) / self.seconds

    def cpu_share(self) -> tuple[float | None, float]:
        """Server and load generator CPU, each as a fraction of one core over the run."""
        server = self.server_cpu_s / self.seconds if self.server_cpu_s is not None else None
        return server, self.client_cpu_s / self.seconds if self.seconds else 0.0

    def all_latencies(self) -> list[float]:
        return [value for values in self.by_step.values() for value in values]


class CallFlowError(Exception):
    pass


class LoadRun:
    """``plan.concurrency`` callers, each placing calls one after another on its connection."""

    def __init__(
        self,
        label: str,
        port: int,
        planner: CallPlanner,
        plan: LoadPlan,
        follow_flow: bool,
        server_pid: int | None,
        seed: int,
    ) -> None:
        self.port = port
        self.planner = planner
        self.plan = plan
        self.follow_flow = follow_flow
        self.server_pid = server_pid
        self.seed = seed
        self.signer = Signer(AUTH_TOKEN, f"http://{HOST}:{port}")
        self.result = LoadResult(label)
        self.started_calls = 0
        self.stopping = False
        self.measure_from = 0.0
        self.pending_checkpoints = sorted(plan.checkpoints)
        self.pacer = Pacer(plan.rate) if plan.rate else None

    async def run(self) -> LoadResult:
        start = time.perf_counter()
        self.measure_from = start + self.plan.warmup
        cpu = _CpuClock(self.server_pid)
        callers = [
            asyncio.create_task(self._caller(random.Random(self.seed * 1_000 + n)))  # noqa: S311
            for n in range(self.plan.concurrency)
        ]
        watchers = [
            asyncio.create_task(self._sample_rss()),
            asyncio.create_task(self._mark_cpu(cpu)),
        ]
        if self.plan.calls is None:
            watchers.append(
                asyncio.create_task(self._stop_after(self.plan.warmup + self.plan.seconds))
            )
        try:
            await asyncio.gather(*callers)
        finally:
            for task in (*watchers, *callers):
                task.cancel()
        end = time.perf_counter()
        self.result.seconds = max(0.0, end - self.measure_from)
        self.result.client_cpu_s, self.result.server_cpu_s, self.result.machine_cpu_s = cpu.used()
        if self.server_pid is not None:
            self.result.peak_rss_mb = read_memory_mb(self.server_pid, "VmHWM")
        return self.result

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.stopping = True

    async def _mark_cpu(self, cpu: _CpuClock) -> None:
        await asyncio.sleep(self.plan.warmup)
        cpu.start()

    async def _sample_rss(self) -> None:
        if self.server_pid is None:
            return
        start = time.perf_counter()
        while True:
            rss = read_memory_mb(self.server_pid, "VmRSS")
            if rss is not None:
                elapsed = time.perf_counter() - start
                self.result.rss_samples.append((elapsed, self.result.calls_total, rss))
                if self.plan.calls is not None and len(self.result.rss_samples) % 30 == 0:
                    console.print(
                        f"  {elapsed:4.0f} s: {self.result.calls_total:,} of "
                        f"{self.plan.calls:,} calls, server RSS {rss:.0f} MB"
                    )
            await asyncio.sleep(1.0)

    def _take_call(self) -> bool:
        if self.stopping:
            return False
        if self.plan.calls is not None and self.started_calls >= self.plan.calls:
            return False
        self.started_calls += 1
        return True

    async def _caller(self, rng: random.Random) -> None:
        connection = Connection(self.port, self.signer, self.plan.timeout)
        try:
            while self._take_call():
                await self._call(connection, rng)
        finally:
            connection.close()
            self.result.reconnects += connection.reconnects

    def _error(self, kind: str, detail: str) -> None:
        self.result.errors[kind] += 1
        if len(self.result.error_examples) < 10:
            self.result.error_examples.append(f"{kind}: {detail}")

    async def _post(
        self,
        connection: Connection,
        target: str,
        params: list[tuple[str, str]],
        step: str,
        kind: str,
    ) -> Reply:
        if self.pacer is not None:
            await self.pacer.wait()
        sent = time.perf_counter()
        reply = await connection.post(target, params)
        done = time.perf_counter()
        if done >= self.measure_from:
            result = self.result
            result.requests += 1
            latency = (done - sent) * 1000.0
            result.by_step.setdefault(step, []).append(latency)
            result.by_kind.setdefault(kind, []).append(latency)
        return reply

    async def _call(self, connection: Connection, rng: random.Random) -> None:
        pupil, script = self.planner.draw(rng)
        call_sid = f"CA{rng.getrandbits(128):032x}"
        common = [
            ("CallSid", call_sid),
            ("AccountSid", ACCOUNT_SID),
            ("From", guardian_phone(pupil)),
            ("To", LINE_NUMBER),
            ("Direction", "inbound"),
        ]
        started = time.perf_counter()
        try:
            await self._converse(connection, common, call_sid, pupil, script)
            ended = [("CallStatus", "completed"), ("CallDuration", str(5 + 8 * len(script.keys)))]
            reply = await self._post(
                connection, "/twilio/voice/status", common + ended, "status", "status"
            )
            if reply.status != 204:
                raise RequestFailed(f"http {reply.status}")
            self.result.statuses_accepted += 1
        except RequestFailed as failed:
            self._error(failed.kind, f"{script.path} call {call_sid}")
            return
        except CallFlowError as error:
            self._error("flow", str(error))
            return
        self.result.calls_total += 1
        if self.pending_checkpoints and self.result.calls_total >= self.pending_checkpoints[0]:
            checkpoint = self.pending_checkpoints.pop(0)
            if self.server_pid is not None and (rss := read_memory_mb(self.server_pid, "VmRSS")):
                self.result.rss_at_calls[checkpoint] = rss
        if started >= self.measure_from:
            self.result.calls += 1
            self.result.by_path[script.path] += 1

    async def _converse(
        self,
        connection: Connection,
        common: list[tuple[str, str]],
        call_sid: str,
        pupil: int,
        script: Script,
    ) -> None:
        reply = await self._post(
            connection,
            "/twilio/voice",
            [*common, ("CallStatus", "ringing")],
            "incoming",
            "incoming",
        )
        if reply.status != 200:
            raise RequestFailed(f"http {reply.status}")
        prompt = self._next_prompt(reply, 0, script, 0)
        keys, kinds = list(script.keys), list(script.kinds)
        n = 0
        while n < len(keys):
            params = [*common, ("CallStatus", "in-progress"), ("Digits", keys[n])]
            target = f"/twilio/voice/step?prompt={prompt}"
            reply = await self._post(connection, target, params, f"prompt {n + 1}", kinds[n])
            if reply.status != 200:
                raise RequestFailed(f"http {reply.status}")
            last = n == len(keys) - 1
            if reply.reference is not None:
                if not self.follow_flow or not last:
                    raise CallFlowError(f"{script.path}: a reference after keys {n + 1}")
                if reply.reference in self.result.recorded:
                    self.result.duplicate_references += 1
                self.result.recorded[reply.reference] = Recorded(call_sid, pupil)
            elif self.follow_flow and last:
                if len(keys) > len(script.keys) or not _ONE_KEY_GATHER.search(reply.body):
                    raise CallFlowError(f"{script.path}: no absence recorded after the last keys")
                # The period has no school day (today is a weekend or a holiday): the line
                # asks whether to keep it as keyed, and the caller does.
                keys.append(KEEP_KEY)
                kinds.append(KIND_RECORD)
                self.result.days_off_kept += 1
            prompt = self._next_prompt(reply, prompt, script, n + 1)
            n += 1

    def _next_prompt(self, reply: Reply, prompt: int, script: Script, answered: int) -> int:
        match = _ACTION_PROMPT.search(reply.body)
        if match is not None:
            number = int(match.group(1))
            if self.follow_flow and number != prompt + 1:
                raise CallFlowError(f"{script.path}: prompt {number} after prompt {prompt}")
            return number
        if self.follow_flow:
            said = reply.body[:300].decode(errors="replace")
            raise CallFlowError(f"{script.path}: the line hung up after {answered} keys: {said}")
        return prompt + 1


class _CpuClock:
    """CPU seconds of this process (the load generator), of the server and of the whole
    machine, from the end of the warm-up to the end of the run."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self._client = 0.0
        self._server: float | None = None
        self._machine = 0.0
        self._started = False

    def start(self) -> None:
        self._client, self._server = _own_cpu(), server_cpu(self.server_pid)
        self._machine = machine_cpu()
        self._started = True

    def used(self) -> tuple[float, float | None, float]:
        if not self._started:
            return 0.0, None, 0.0
        client = _own_cpu() - self._client
        machine = machine_cpu() - self._machine
        server_now = server_cpu(self.server_pid)
        if server_now is None or self._server is None:
            return client, None, machine
        return client, server_now - self._server, machine


def machine_cpu() -> float:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``, less idle and iowait)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def server_cpu(pid: int | None) -> float | None:
    """User and system CPU seconds of ``pid`` (its threads included), from /proc."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warn_if_busy(seconds: float = 2.0, threshold: float = 0.15) -> None:
    """Say so when other processes keep the machine busy: they disturb every figure."""
    before = machine_cpu()
    time.sleep(seconds)
    busy = (machine_cpu() - before) / seconds
    if busy > threshold:
        console.print(
            f"[yellow]warning: the machine is busy before the run ({busy:.0%} of a core in "
            "other processes); the figures will be disturbed[/yellow]"
        )


def run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run on uvloop when it is installed (uvicorn[standard] brings it), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


# --- processes -----------------------------------------------------------------------------


class BenchError(RuntimeError):
    """The benchmark could not run: a command failed or a server did not come up."""


def read_memory_mb(pid: int, field_name: str) -> float | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of ``pid`` in MB, from /proc."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for parent in found:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children", encoding="ascii") as file:
                    found.extend(int(child) for child in file.read().split())
    return found


def serving_pid(pid: int, port: int) -> int:
    """The process (``pid`` or one of its children) that holds the socket listening on
    ``port``: the one whose memory is the server's."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for candidate in _descendants(pid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{candidate}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{candidate}/fd/{fd}") in sockets:
                        return candidate
    raise BenchError(f"no process of {pid} listens on port {port}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Processes:
    """Every server this run starts, stopped when it ends (also on Ctrl-C)."""

    def __init__(self) -> None:
        self.running: list[tuple[subprocess.Popen[bytes], TextIO]] = []

    def start(self, command: Sequence[str], env: dict[str, str], log: Path) -> int:
        log_file = log.open("w", encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            list(command),
            env=env,
            cwd=log.parent,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((process, log_file))
        return process.pid

    def stop(self, pid: int) -> None:
        for entry in list(self.running):
            process, log_file = entry
            if process.pid == pid:
                self.running.remove(entry)
                _stop(process)
                log_file.close()

    def exited(self, pid: int) -> int | None:
        for process, _log in self.running:
            if process.pid == pid:
                return process.poll()
        return None

    def stop_all(self) -> None:
        for process, log_file in reversed(self.running):
            _stop(process)
            log_file.close()
        self.running.clear()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # the group of this process only: its own session
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
            return


def wait_healthy(processes: Processes, pid: int, port: int, log: Path, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        code = processes.exited(pid)
        if code is not None:
            raise BenchError(f"the server exited with {code}:\n{_tail(log)}")
        connection = http.client.HTTPConnection(HOST, port, timeout=1.0)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise BenchError(f"the server on port {port} did not become healthy:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    return ""


def line_env(database_url: str, port: int | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("IVR_")}
    env |= {
        "IVR_DATABASE_URL": database_url,
        "IVR_SECRET_KEY": SECRET_KEY,
        "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_TIMEZONE": TIMEZONE,
        "IVR_PUBLIC_BASE_URL": f"http://{HOST}:{port or 8000}",
    }
    return env


def run_ivr(arguments: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run ``ivr ARGUMENTS``; its wall time in seconds and its peak RSS in MB."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [str(IVR), *arguments],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            said = output.read().decode(errors="replace")[-4000:]
            raise BenchError(f"ivr {' '.join(arguments)} failed ({process.returncode}):\n{said}")
    return seconds, usage.ru_maxrss / 1024.0


# --- databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """A new, empty database for one run, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"ivr_bench_{secrets.token_hex(6)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Check:
    """The database against what the callers were told."""

    absences: int = 0
    references_seen: int = 0
    outbox: int = 0
    outbox_expected: int = 0
    calls_completed: int = 0
    statuses_accepted: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_database(database_url: str, result: LoadResult) -> Check:
    check = Check(references_seen=len(result.recorded), statuses_accepted=result.statuses_accepted)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            absences = connection.execute(
                sa.text(
                    "SELECT a.id, a.reference, a.call_sid, p.external_id"
                    " FROM absences a JOIN pupils p ON p.id = a.pupil_id"
                )
            ).all()
            confirmations: dict[int, int] = dict(
                connection.execute(
                    sa.text("SELECT absence_id, count(*) FROM outbox GROUP BY absence_id")
                ).all()
            )
            check.absences = int(connection.scalar(sa.text("SELECT count(*) FROM absences")) or 0)
            check.outbox = int(connection.scalar(sa.text("SELECT count(*) FROM outbox")) or 0)
            check.calls_completed = int(
                connection.scalar(sa.text("SELECT count(*) FROM calls WHERE status = 'completed'"))
                or 0
            )
    finally:
        engine.dispose()
    stored = {
        reference: (call_sid, pupil, int(confirmations.get(absence_id, 0)))
        for absence_id, reference, call_sid, pupil in absences
    }
    check.outbox_expected = sum(expected_confirmations(r.pupil) for r in result.recorded.values())
    problems = check.problems
    if result.duplicate_references:
        problems.append(f"{result.duplicate_references} reference(s) given to two reports")
    if check.absences != check.references_seen:
        problems.append(
            f"{check.absences} absences stored, {check.references_seen} references given to callers"
        )
    wrong = [
        reference
        for reference, told in result.recorded.items()
        if stored.get(reference, ("", "", -1))[:2] != (told.call_sid, pupil_external_id(told.pupil))
    ]
    if wrong:
        problems.append(f"{len(wrong)} reference(s) missing or for another call or pupil")
    unseen = stored.keys() - result.recorded.keys()
    if unseen:
        problems.append(f"{len(unseen)} stored absence(s) no caller was told about")
    short = [
        reference
        for reference, told in result.recorded.items()
        if reference in stored and stored[reference][2] != expected_confirmations(told.pupil)
    ]
    if short:
        problems.append(f"{len(short)} absence(s) with another number of confirmations")
    if check.outbox != check.outbox_expected:
        problems.append(f"{check.outbox} outbox rows, {check.outbox_expected} expected")
    if check.calls_completed != check.statuses_accepted:
        problems.append(
            f"{check.calls_completed} calls completed in the database, "
            f"{check.statuses_accepted} status callbacks accepted"
        )
    return check


# --- one run -------------------------------------------------------------------------------


@dataclass
class DatabaseRun:
    database: str
    pupils: int
    rows: int = 0
    csv_seconds: float = 0.0
    import_seconds: float = 0.0
    import_runs: int = 0
    import_peak_rss_mb: float = 0.0
    analyze_seconds: float | None = None
    server_log_problems: list[str] = field(default_factory=list)
    load: LoadResult | None = None
    check: Check | None = None

    @property
    def import_rows_per_s(self) -> float:
        return self.rows / self.import_seconds if self.import_seconds else 0.0


def today_in_stockholm() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def load_roster(database_url: str, workdir: Path, run: DatabaseRun, chunk: int) -> None:
    """The organisation, its number and a roster of ``run.pupils`` pupils, through ``ivr``:
    one ``ivr roster import`` of the whole file, or one per ``chunk`` pupils."""
    env = line_env(database_url)
    run_ivr(["org", "add", ORGANISATION, "--timezone", TIMEZONE], env, workdir)
    run_ivr(["number", "add", LINE_NUMBER, "--org", ORGANISATION], env, workdir)
    size = chunk if 0 < chunk < run.pupils else run.pupils
    files = math.ceil(run.pupils / size)
    console.print(
        f"  importing {run.pupils:,} pupils with `ivr roster import`"
        + (f", {files} files of {size:,} pupils" if files > 1 else "")
    )
    for first in range(0, run.pupils, size):
        roster = workdir / f"roster-{first}.csv"
        started = time.perf_counter()
        run.rows += write_roster(roster, first, min(first + size, run.pupils))
        run.csv_seconds += time.perf_counter() - started
        seconds, peak_mb = run_ivr(["roster", "import", str(roster)], env, workdir)
        roster.unlink()
        run.import_seconds += seconds
        run.import_runs += 1
        run.import_peak_rss_mb = max(run.import_peak_rss_mb, peak_mb)
        if files > 1:
            analyze(database_url, run)
    console.print(
        f"  imported {run.rows:,} rows in {run.import_seconds:.1f} s "
        f"({run.import_rows_per_s:,.0f} rows/s, importer peak RSS "
        f"{run.import_peak_rss_mb:,.0f} MB; CSV written in {run.csv_seconds:.1f} s)"
    )
    if files == 1:
        analyze(database_url, run)


def analyze(database_url: str, run: DatabaseRun) -> None:
    """PostgreSQL: refresh the planner's statistics, as autovacuum does soon after a bulk
    load (between the files of a chunked import, as between imports on separate days)."""
    if not database_url.startswith("postgresql"):
        return
    started = time.perf_counter()
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
    run.analyze_seconds = (run.analyze_seconds or 0.0) + time.perf_counter() - started


def bench_database(
    kind: str,
    pupils: int,
    plan: LoadPlan,
    args: argparse.Namespace,
    processes: Processes,
    chunk: int = 0,
) -> DatabaseRun:
    run = DatabaseRun(kind, pupils)
    console.rule(f"[bold]{kind}[/bold]: {pupils:,} pupils")
    with (
        tempfile.TemporaryDirectory(prefix=f"ivr-bench-{kind}-") as tmp,
        fresh_database(kind, Path(tmp), args.postgres_url) as database_url,
    ):
        workdir = Path(tmp)
        load_roster(database_url, workdir, run, chunk)
        if args.import_only:
            return run
        port = free_port()
        log = workdir / "server.log"
        command = [str(IVR), "serve", "--host", HOST, "--port", str(port), "--workers", "1"]
        env = line_env(database_url, port) | dict(args.server_env)
        pid = processes.start(command, env, log)
        try:
            wait_healthy(processes, pid, port, log)
            server = serving_pid(pid, port)
            console.print(f"  ivr serve on port {port}: pid {pid}, serving pid {server}")
            planner = CallPlanner(pupils, today_in_stockholm())
            loader = LoadRun(kind, port, planner, plan, True, server, args.seed)
            console.print(f"  {_describe(plan)}")
            warn_if_busy()
            run.load = run_async(loader.run())
        except BaseException:
            console.print(f"[red]server log tail:[/red]\n{escape(_tail(log))}")
            raise
        finally:
            processes.stop(pid)
        run.check = check_database(database_url, run.load)
        run.server_log_problems = _log_problems(log)
        if run.load.error_count or run.server_log_problems:
            console.print(f"[yellow]server log tail:[/yellow]\n{escape(_tail(log, 15))}")
    return run


def _log_problems(log: Path) -> list[str]:
    """Lines of the server's log that report an error or a traceback."""
    problems: list[str] = []
    with contextlib.suppress(OSError), log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if "Traceback" in line or " ERROR " in line or line.startswith("ERROR:"):
                problems.append(line.rstrip())
    return problems


def bench_baseline(plan: LoadPlan, args: argparse.Namespace, processes: Processes) -> LoadResult:
    console.rule("[bold]bare app[/bold] (FastAPI + uvicorn, form parsing, constant TwiML)")
    with tempfile.TemporaryDirectory(prefix="ivr-bench-bare-") as tmp:
        port = free_port()
        log = Path(tmp) / "bare.log"
        command = [sys.executable, str(SCRIPTS / "bare_app.py"), "--port", str(port)]
        pid = processes.start(command, line_env("sqlite://", port), log)
        try:
            wait_healthy(processes, pid, port, log)
            server = serving_pid(pid, port)
            console.print(f"  bare app on port {port}: serving pid {server}")
            console.print(f"  {_describe(plan)}")
            warn_if_busy()
            planner = CallPlanner(max(args.pupils, 1), today_in_stockholm())
            loader = LoadRun("bare app", port, planner, plan, False, server, args.seed)
            return run_async(loader.run())
        finally:
            processes.stop(pid)


def _describe(plan: LoadPlan) -> str:
    amount = f"{plan.calls:,} calls" if plan.calls is not None else f"{plan.seconds:g} s"
    return (
        f"{plan.concurrency} callers, {amount} after {plan.warmup:g} s warm-up, "
        f"{plan.timeout:g} s request timeout"
    )


# --- figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return math.nan
    return values[max(0, math.ceil(q * len(values)) - 1)]


def latency_summary(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 3),
        "p95_ms": round(percentile(ordered, 0.95), 3),
        "p99_ms": round(percentile(ordered, 0.99), 3),
        "max_ms": round(ordered[-1], 3) if ordered else math.nan,
    }


def _step_order(step: str) -> tuple[int, int]:
    if step == "incoming":
        return (0, 0)
    if step == "status":
        return (2, 0)
    return (1, int(step.split()[-1]))


def load_figures(load: LoadResult) -> dict[str, Any]:
    overall = latency_summary(load.all_latencies())
    server_share, client_share = load.cpu_share()
    return {
        "rps": round(load.rps, 1),
        "calls_per_s": round(load.calls_per_s, 1),
        "requests": load.requests,
        "calls": load.calls,
        "calls_including_warmup": load.calls_total,
        "seconds": round(load.seconds, 2),
        "p50_ms": overall["p50_ms"],
        "p95_ms": overall["p95_ms"],
        "p99_ms": overall["p99_ms"],
        "max_ms": overall["max_ms"],
        "errors": load.error_count,
        "error_kinds": dict(load.errors),
        "error_examples": load.error_examples,
        "reconnects": load.reconnects,
        "days_off_kept": load.days_off_kept,
        "rss_mb": round(load.peak_rss_mb, 1) if load.peak_rss_mb is not None else None,
        "server_cpu_cores": round(server_share, 3) if server_share is not None else None,
        "server_cpu_ms_per_request": round(1e3 * load.server_cpu_s / load.requests, 3)
        if load.server_cpu_s is not None and load.requests
        else None,
        "loadgen_cpu_cores": round(client_share, 3),
        "other_cpu_cores": round(load.other_cpu_share(), 3),
        "loadgen_cpu_us_per_request": round(1e6 * load.client_cpu_s / load.requests, 1)
        if load.requests
        else None,
        "rss_samples_mb": [
            {"t": round(t, 1), "calls": calls, "rss_mb": round(rss, 1)}
            for t, calls, rss in load.rss_samples
        ],
        "rss_at_calls_mb": {str(n): round(rss, 1) for n, rss in load.rss_at_calls.items()},
        "steps": {
            step: latency_summary(load.by_step[step])
            for step in sorted(load.by_step, key=_step_order)
        },
        "kinds": {kind: latency_summary(values) for kind, values in sorted(load.by_kind.items())},
        "paths": dict(load.by_path.most_common()),
    }


def run_figures(run: DatabaseRun, baseline: LoadResult | None, plan: LoadPlan) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "database": run.database,
        "pupils": run.pupils,
        "roster_rows": run.rows,
        "import_seconds": round(run.import_seconds, 2),
        "import_rows_per_s": round(run.import_rows_per_s, 1),
        "import_runs": run.import_runs,
        "import_peak_rss_mb": round(run.import_peak_rss_mb, 1),
        "analyze_seconds": round(run.analyze_seconds, 2) if run.analyze_seconds else None,
        "concurrency": plan.concurrency,
    }
    if run.load is None:
        return figures
    figures |= load_figures(run.load)
    baseline_rps = baseline.rps if baseline is not None else None
    figures["baseline_rps"] = round(baseline_rps, 1) if baseline_rps else None
    figures["ratio"] = round(run.load.rps / baseline_rps, 4) if baseline_rps else None
    checkpoints = [run.load.rss_at_calls.get(n) for n in MEMORY_CHECKPOINTS]
    if checkpoints[0] and checkpoints[1]:
        figures["rss_growth_20k_to_100k"] = round(checkpoints[1] / checkpoints[0] - 1, 4)
    figures["server_log_problems"] = run.server_log_problems[:20]
    if run.check is not None:
        check = run.check
        figures["database_check"] = {
            "ok": check.ok,
            "absences": check.absences,
            "references_seen": check.references_seen,
            "outbox": check.outbox,
            "outbox_expected": check.outbox_expected,
            "calls_completed": check.calls_completed,
            "status_callbacks_accepted": check.statuses_accepted,
            "problems": check.problems,
        }
    return figures


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def print_summary(runs: list[DatabaseRun], baseline: LoadResult | None) -> None:
    table = Table(title="Webhook throughput and latency (ms)")
    table.add_column("server")
    for column in ("calls/s", "webhooks/s", "vs bare", "p50", "p95", "p99", "max", "errors"):
        table.add_column(column, justify="right")
    for column in ("RSS MB", "srv CPU", "ms CPU/req", "gen CPU", "other CPU"):
        table.add_column(column, justify="right")
    names = [run.database for run in runs]
    loads = [
        (
            run.database if names.count(run.database) == 1 else f"{run.database} {run.pupils:,}",
            run.load,
        )
        for run in runs
        if run.load is not None
    ]
    if baseline is not None:
        loads.insert(0, ("bare app", baseline))
    if not loads:
        for run in runs:
            _print_run(run)
        return
    for name, load in loads:
        overall = latency_summary(load.all_latencies())
        server_share, client_share = load.cpu_share()
        ratio = f"{load.rps / baseline.rps:.1%}" if baseline and baseline.rps else "-"
        table.add_row(
            name,
            f"{load.calls_per_s:,.0f}",
            f"{load.rps:,.0f}",
            "100%" if load is baseline else ratio,
            *(_ms(float(overall[key])) for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
            str(load.error_count),
            f"{load.peak_rss_mb:.0f}" if load.peak_rss_mb is not None else "-",
            f"{server_share:.0%}" if server_share is not None else "-",
            f"{1e3 * load.server_cpu_s / load.requests:.2f}"
            if load.server_cpu_s is not None and load.requests
            else "-",
            f"{client_share:.0%}",
            f"{load.other_cpu_share():.0%}",
        )
    console.print(table)
    console.print(
        "RSS: the server's peak. CPU: share of one core over the measured run; the server is "
        "one process; other: every other process (PostgreSQL, or anything else running, which "
        "disturbs the figures); ms CPU/req: the server's CPU per webhook."
    )
    if baseline is not None:
        verdict = "[green]yes[/green]" if baseline.rps >= LOADGEN_TARGET_RPS else "[red]no[/red]"
        console.print(
            f"Load generator against the bare app: {baseline.rps:,.0f} requests/s "
            f"(target {LOADGEN_TARGET_RPS:,}: {verdict})"
        )
    for run in runs:
        _print_run(run)


def _print_run(run: DatabaseRun) -> None:
    if run.import_runs > 1:
        verdict = f"{run.import_runs} files, one `ivr roster import` each"
    elif run.rows >= IMPORT_TARGET_ROWS:
        met = run.import_seconds * IMPORT_TARGET_ROWS / run.rows <= IMPORT_TARGET_SECONDS
        verdict = f"target 100,000 rows in 60 s: {'[green]met' if met else '[red]missed'}[/]"
    else:
        verdict = "fewer rows than the target's 100,000; the time includes starting `ivr`"
    console.print(
        f"\n[bold]{run.database}[/bold]: import of {run.rows:,} rows in "
        f"{run.import_seconds:.1f} s, {run.import_rows_per_s:,.0f} rows/s ({verdict})"
    )
    load = run.load
    if load is None:
        return
    steps = Table(title=f"{run.database}: latency by step (ms)")
    for column in ("step", "requests", "p50", "p95", "p99", "max"):
        steps.add_column(column, justify="left" if column == "step" else "right")
    for step in sorted(load.by_step, key=_step_order):
        _latency_row(steps, step, load.by_step[step])
    for kind in (KIND_NUMBER, KIND_RECORD, KIND_OTHER):
        if kind in load.by_kind:
            _latency_row(steps, f"[dim]any prompt: {kind}[/dim]", load.by_kind[kind])
    console.print(steps)
    paths = ", ".join(f"{path} {count}" for path, count in load.by_path.most_common())
    console.print(f"Calls by path: {paths}")
    if load.days_off_kept:
        console.print(
            f"{load.days_off_kept} report(s) fell on a day off and were kept with "
            f"{KEEP_KEY} when the line asked"
        )
    if load.reconnects:
        console.print(
            f"[yellow]{load.reconnects} request(s) found their connection closed by the server "
            "and were sent again on a new one[/yellow]"
        )
    if load.errors:
        console.print(f"[red]Errors: {dict(load.errors)}[/red]")
        for example in load.error_examples:
            console.print(f"  {escape(example)}")
    _print_memory(load)
    if run.server_log_problems:
        console.print(f"[yellow]Server log: {len(run.server_log_problems)} error line(s)[/yellow]")
        for line in run.server_log_problems[:5]:
            console.print(f"  {escape(line)}")
    if run.check is not None:
        check = run.check
        state = "[green]consistent[/green]" if check.ok else "[red]MISMATCH[/red]"
        console.print(
            f"Database check {state}: {check.absences:,} absences for "
            f"{check.references_seen:,} references given; outbox {check.outbox:,} rows "
            f"({check.outbox_expected:,} expected); {check.calls_completed:,} calls completed "
            f"({check.statuses_accepted:,} status callbacks accepted)"
        )
        for problem in check.problems:
            console.print(f"  [red]{problem}[/red]")


def _latency_row(table: Table, name: str, values: list[float]) -> None:
    summary = latency_summary(values)
    table.add_row(
        name,
        f"{summary['count']:,}",
        *(_ms(float(summary[key])) for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
    )


def _print_memory(load: LoadResult) -> None:
    if load.rss_samples:
        first, last = load.rss_samples[0], load.rss_samples[-1]
        console.print(
            f"Server RSS: {first[2]:.0f} MB at start of load, {last[2]:.0f} MB after "
            f"{last[1]:,} calls, peak {load.peak_rss_mb or 0:.0f} MB"
        )
    if load.rss_at_calls:
        marks = ", ".join(f"{n:,} calls: {rss:.1f} MB" for n, rss in load.rss_at_calls.items())
        console.print(f"RSS at {marks}")
        low, high = (load.rss_at_calls.get(n) for n in MEMORY_CHECKPOINTS)
        if low and high:
            growth = high / low - 1
            verdict = "[green]met" if abs(growth) <= MEMORY_TARGET else "[red]missed"
            console.print(f"RSS growth 20k -> 100k calls: {growth:+.1%} (target 10%: {verdict}[/])")


def compare_figures(small: DatabaseRun, large: DatabaseRun) -> dict[str, Any]:
    def p99(run: DatabaseRun) -> float:
        assert run.load is not None
        return percentile(sorted(run.load.by_kind.get(KIND_NUMBER, [])), 0.99)

    return {
        "pupils": [small.pupils, large.pupils],
        "personal_number_p99_ms": [round(p99(small), 3), round(p99(large), 3)],
        "p99_ratio": round(p99(large) / p99(small), 4),
        "personal_number_p50_ms": [
            latency_summary(run.load.by_kind.get(KIND_NUMBER, []))["p50_ms"]
            for run in (small, large)
            if run.load is not None
        ],
        "import_seconds": [round(small.import_seconds, 2), round(large.import_seconds, 2)],
    }


def print_compare(database: str, figures: dict[str, Any]) -> None:
    ratio = float(figures["p99_ratio"])
    verdict = "[green]met" if ratio <= 1 + COMPARE_TARGET else "[red]missed"
    small, large = figures["personal_number_p99_ms"]
    console.print(
        f"[bold]{database}[/bold]: personal-number step p99 {small:.2f} ms with "
        f"{figures['pupils'][0]:,} pupils, {large:.2f} ms with {figures['pupils'][1]:,}: "
        f"ratio {ratio:.2f} (target within 20%: {verdict}[/])"
    )


# --- main ----------------------------------------------------------------------------------


def _env_setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("IVR_"):
        raise argparse.ArgumentTypeError("expected IVR_NAME=VALUE")
    return name, value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load benchmark of the absence line (see the module docstring).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--pupils", type=int, default=10_000, help="pupils in the roster")
    parser.add_argument("--concurrency", type=int, default=32, help="simultaneous callers")
    parser.add_argument("--seconds", type=float, default=20.0, help="load after warm-up")
    parser.add_argument("--calls", type=int, help="place this many calls instead of --seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=1, help="for the callers' choices")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin database")
    parser.add_argument("--quick", action="store_true", help="1,000 pupils, 5 s, 8 callers")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare app")
    parser.add_argument(
        "--server-env",
        action="append",
        type=_env_setting,
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for `ivr serve`, e.g. IVR_DISPATCHER=off (repeatable)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="send this many webhooks a second in all (latency at a given load; default: "
        "as fast as the server answers)",
    )
    parser.add_argument("--import-only", action="store_true", help="only time the import")
    parser.add_argument(
        "--import-chunk",
        type=int,
        default=0,
        help="pupils per `ivr roster import` run (0: the whole roster in one file; "
        f"--pupils-compare: {COMPARE_IMPORT_CHUNK:,})",
    )
    parser.add_argument(
        "--memory-check",
        action="store_true",
        help=f"place {MEMORY_CHECKPOINTS[-1]:,} calls, RSS at {MEMORY_CHECKPOINTS[0]:,} and "
        f"{MEMORY_CHECKPOINTS[-1]:,}",
    )
    parser.add_argument(
        "--pupils-compare",
        action="store_true",
        help="personal-number step p99 with 10,000 and with 1,000,000 pupils",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.pupils, args.seconds = QUICK_PUPILS, QUICK_SECONDS
        args.concurrency, args.warmup = QUICK_CONCURRENCY, QUICK_WARMUP
    if args.memory_check:
        args.calls = max(args.calls or 0, MEMORY_CHECKPOINTS[-1])
    if not 1 <= args.pupils <= NUMBER_SLOTS:
        parser.error(f"--pupils must be 1 to {NUMBER_SLOTS:,}")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be more than 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if not IVR.exists():
        console.print(f"[red]{IVR} not found: run with the project's .venv/bin/python[/red]")
        return 2
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    plan = LoadPlan(
        concurrency=args.concurrency,
        seconds=args.seconds,
        calls=args.calls,
        warmup=args.warmup,
        timeout=args.timeout,
        checkpoints=MEMORY_CHECKPOINTS if args.memory_check else (),
        rate=args.rate,
    )
    report: dict[str, Any] = {"settings": _settings(args, plan), "databases": {}}
    processes = Processes()
    runs: list[DatabaseRun] = []
    baseline: LoadResult | None = None
    compared: dict[str, dict[str, Any]] = {}
    try:
        if not (args.no_baseline or args.import_only or args.pupils_compare):
            baseline = bench_baseline(plan, args, processes)
            report["baseline"] = load_figures(baseline)
        for database in databases:
            if args.pupils_compare:
                chunk = args.import_chunk or COMPARE_IMPORT_CHUNK
                small, large = (
                    bench_database(database, pupils, plan, args, processes, chunk)
                    for pupils in COMPARE_PUPILS
                )
                runs += [small, large]
                compared[database] = compare_figures(small, large)
            else:
                run = bench_database(
                    database, args.pupils, plan, args, processes, args.import_chunk
                )
                runs.append(run)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: servers stopped, temporary databases removed[/yellow]")
        return 130
    except BenchError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        return 2
    finally:
        processes.stop_all()
    console.rule("[bold]results[/bold]")
    print_summary(runs, baseline)
    for database, figures in compared.items():
        print_compare(database, figures)
    for run in runs:
        key = run.database if not args.pupils_compare else f"{run.database}-{run.pupils}"
        report["databases"][key] = run_figures(run, baseline, plan)
    if compared:
        report["pupils_compare"] = compared
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"Figures written to {args.json}")
    failed = [run for run in runs if run.load and (run.load.error_count or not _checked_ok(run))]
    if baseline is not None and baseline.error_count:
        console.print(f"[red]The bare app run had {baseline.error_count} error(s).[/red]")
        return 1
    return 1 if failed else 0


def _checked_ok(run: DatabaseRun) -> bool:
    return run.check is not None and run.check.ok


def _git_state() -> str | None:
    """The commit the server code is at, ``+dirty`` when the working tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from the PATH
            cwd=SCRIPTS,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ivr"],  # noqa: S607 - git from the PATH
            cwd=SCRIPTS.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _settings(args: argparse.Namespace, plan: LoadPlan) -> dict[str, Any]:
    return {
        "databases": args.db,
        "pupils": args.pupils,
        "concurrency": plan.concurrency,
        "seconds": plan.seconds,
        "calls": plan.calls,
        "warmup": plan.warmup,
        "timeout": plan.timeout,
        "rate": plan.rate,
        "seed": args.seed,
        "quick": args.quick,
        "memory_check": args.memory_check,
        "pupils_compare": args.pupils_compare,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "server_env": dict(args.server_env),
        "git": _git_state(),
        "pythonpath": os.environ.get("PYTHONPATH"),
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


if __name__ == "__main__":
    sys.exit(main())
