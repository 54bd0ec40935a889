"""The command line and the JSON report."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.config import (
    COMPARE_IMPORT_CHUNK,
    COMPARE_PUPILS,
    DEFAULT_POSTGRES_URL,
    IVR,
    MEMORY_CHECKPOINTS,
    NUMBER_SLOTS,
    QUICK_CONCURRENCY,
    QUICK_PUPILS,
    QUICK_SECONDS,
    QUICK_WARMUP,
    SCRIPTS,
    console,
)
from bench.figures import compare_figures, load_figures, print_compare, print_summary, run_figures
from bench.load import LoadPlan, LoadResult
from bench.processes import BenchError, Processes
from bench.runs import DatabaseRun, bench_baseline, bench_database
from bench.steps import STEP_CALLS


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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (`ivr serve --workers N`); the figures for CPU add them up",
    )
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
        "--step-calls",
        type=int,
        default=STEP_CALLS,
        help="calls placed one webhook at a time after the load, for the CPU by step (0: none)",
    )
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
        args.step_calls = min(args.step_calls, 300)
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
        "workers": args.workers,
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
