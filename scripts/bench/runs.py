"""One run per database: roster, load, figures; and the bare app as the baseline."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.markup import escape

from bench.calls import CallPlanner
from bench.config import HOST, IVR, LINE_NUMBER, ORGANISATION, SCRIPTS, TIMEZONE, console
from bench.database import Check, check_database, fresh_database
from bench.load import LoadPlan, LoadResult, LoadRun
from bench.processes import (
    Processes,
    _tail,
    free_port,
    line_env,
    run_ivr,
    serving_pid,
    wait_healthy,
)
from bench.roster import write_roster
from bench.sampling import run_async, warn_if_busy
from bench.steps import cpu_by_step, database_share


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
    database_share: dict[str, float] = field(default_factory=dict)
    cpu_ms_by_step: dict[str, float] = field(default_factory=dict)

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
        command = [
            str(IVR),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
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
            run.check = check_database(database_url, run.load)
            run.database_share = database_share(port)
            if args.step_calls:
                console.print(
                    f"  CPU by step: {args.step_calls:,} calls, a kind of webhook at a time"
                )
                run.cpu_ms_by_step = run_async(
                    cpu_by_step(
                        port,
                        server,
                        pupils,
                        today_in_stockholm(),
                        args.step_calls,
                        plan.concurrency,
                    )
                )
        except BaseException:
            console.print(f"[red]server log tail:[/red]\n{escape(_tail(log))}")
            raise
        finally:
            processes.stop(pid)
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
