"""The load: callers placing whole calls, paced or as fast as the server answers, and what
they were told."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.calls import KIND_RECORD, CallPlanner, Script
from bench.client import (
    _ACTION,
    _ONE_KEY_GATHER,
    KEEP_KEY,
    Connection,
    Reply,
    RequestFailed,
    Signer,
)
from bench.config import ACCOUNT_SID, AUTH_TOKEN, HOST, LINE_NUMBER, console
from bench.processes import read_memory_mb
from bench.roster import guardian_phone
from bench.sampling import _CpuClock
from ivr.i18n import available_languages, load_catalogue


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
    # Calls whose report another call of the run had made already (the line records nothing
    # new and tells the guardian so): only once callers come back to pupils already called.
    already_reported: int = 0
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


# What a guardian hears, in their language, when the report is held whole by one before.
_ALREADY_REPORTED = tuple(
    load_catalogue(language).texts["speech.already_reported"].split("{")[0].strip().encode()
    for language in available_languages()
)


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
        target = self._next_action(reply, "/twilio/voice/step", script, 0)
        keys, kinds = list(script.keys), list(script.kinds)
        n = 0
        while n < len(keys):
            params = [*common, ("CallStatus", "in-progress"), ("Digits", keys[n])]
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
            elif self.follow_flow and last and any(s in reply.body for s in _ALREADY_REPORTED):
                self.result.already_reported += 1
            elif self.follow_flow and last:
                if len(keys) > len(script.keys) or not _ONE_KEY_GATHER.search(reply.body):
                    raise CallFlowError(f"{script.path}: no absence recorded after the last keys")
                # The period has no school day (today is a weekend or a holiday): the line
                # asks whether to keep it as keyed, and the caller does.
                keys.append(KEEP_KEY)
                kinds.append(KIND_RECORD)
                self.result.days_off_kept += 1
            target = self._next_action(reply, target, script, n + 1)
            n += 1

    def _next_action(self, reply: Reply, last: str, script: Script, answered: int) -> str:
        """Where the next keys go: the gather's action, as the provider follows it."""
        match = _ACTION.search(reply.body)
        if match is not None:
            return match.group(1).decode("ascii")
        if self.follow_flow:
            said = reply.body[:300].decode(errors="replace")
            raise CallFlowError(f"{script.path}: the line hung up after {answered} keys: {said}")
        return last
