"""The figures: percentiles, what the README quotes, and the printed summary."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.calls import KIND_NUMBER, KIND_OTHER, KIND_RECORD
from bench.client import KEEP_KEY
from bench.config import (
    COMPARE_TARGET,
    IMPORT_TARGET_ROWS,
    IMPORT_TARGET_SECONDS,
    LOADGEN_TARGET_RPS,
    MEMORY_CHECKPOINTS,
    MEMORY_TARGET,
    console,
)
from bench.database import Check
from bench.load import LoadPlan, LoadResult
from bench.runs import DatabaseRun


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
        "already_reported": load.already_reported,
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
    if run.database_share:
        figures["database_share"] = round(run.database_share["share"], 4)
    if run.cpu_ms_by_step:
        figures["cpu_ms_by_step"] = {k: round(v, 3) for k, v in run.cpu_ms_by_step.items()}
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
    _print_import(run)
    if run.load is None:
        return
    _print_steps(run.database, run.load)
    _print_load_notes(run.load)
    _print_memory(run.load)
    _print_database_work(run)
    if run.server_log_problems:
        console.print(f"[yellow]Server log: {len(run.server_log_problems)} error line(s)[/yellow]")
        for line in run.server_log_problems[:5]:
            console.print(f"  {escape(line)}")
    if run.check is not None:
        _print_check(run.check)


def _print_import(run: DatabaseRun) -> None:
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


def _print_steps(database: str, load: LoadResult) -> None:
    steps = Table(title=f"{database}: latency by step (ms)")
    for column in ("step", "requests", "p50", "p95", "p99", "max"):
        steps.add_column(column, justify="left" if column == "step" else "right")
    for step in sorted(load.by_step, key=_step_order):
        _latency_row(steps, step, load.by_step[step])
    for kind in (KIND_NUMBER, KIND_RECORD, KIND_OTHER):
        if kind in load.by_kind:
            _latency_row(steps, f"[dim]any prompt: {kind}[/dim]", load.by_kind[kind])
    console.print(steps)


def _print_load_notes(load: LoadResult) -> None:
    paths = ", ".join(f"{path} {count}" for path, count in load.by_path.most_common())
    console.print(f"Calls by path: {paths}")
    if load.already_reported:
        console.print(
            f"{load.already_reported} call(s) reported a pupil whose report another call had "
            "made already: nothing new recorded, the guardian told so"
        )
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


def _print_database_work(run: DatabaseRun) -> None:
    if run.database_share:
        share = run.database_share
        console.print(
            f"Webhooks that needed the database: {share['with_database']:,.0f} of "
            f"{share['webhooks']:,.0f} ({share['share']:.0%})"
        )
    if run.cpu_ms_by_step:
        steps = ", ".join(f"{kind} {ms:.2f}" for kind, ms in run.cpu_ms_by_step.items())
        console.print(f"Server CPU per webhook by step, ms: {steps}")


def _print_check(check: Check) -> None:
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
