"""The benchmark scripts still run against the code as it is: a short run of each on SQLite
must finish cleanly, check the database and report the figures the README quotes. The
figures themselves are not judged here (timings belong to the benchmarks, not the tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.clock import Clock

ROOT = Path(__file__).resolve().parents[2]


def _run_script(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    return subprocess.run(  # noqa: S603 - the project's own scripts
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_load_benchmark_places_calls_and_checks_the_database(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    completed = _run_script(
        "scripts/bench",
        "--quick",
        "--db",
        "sqlite",
        "--seconds",
        "2",
        "--warmup",
        "0.5",
        "--json",
        str(report),
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(report.read_text())["databases"]["sqlite"]
    assert figures["errors"] == 0
    assert figures["calls"] > 0
    assert figures["rps"] > 0 and figures["baseline_rps"] > 0
    assert figures["ratio"] > 0
    assert abs(figures["ratio"] - figures["rps"] / figures["baseline_rps"]) < 0.001
    assert figures["p50_ms"] <= figures["p99_ms"]
    assert figures["rss_mb"] > 0
    check = figures["database_check"]
    assert check["ok"] and check["problems"] == []
    assert check["absences"] == check["references_seen"] > 0


def test_the_dispatcher_benchmark_sends_every_message_once(tmp_path: Path) -> None:
    report = tmp_path / "dispatch.json"
    completed = _run_script("scripts/bench_dispatch.py", "--messages", "300", "--json", str(report))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(report.read_text())["sqlite"]
    assert figures["messages"] == 300
    assert figures["statuses"] == {"sent": 300}
    assert figures["received"] == {"sms": 150, "email": 150, "calls": 0}
    assert figures["lost_or_doubled"] == 0


def test_the_missing_pupil_benchmark_reaches_every_guardian_and_times_the_alert(
    tmp_path: Path, clock: Clock
) -> None:
    report = tmp_path / "missing.json"
    morning = clock.now.replace(hour=8, minute=15, second=0).isoformat()
    completed = _run_script(
        "scripts/bench_missing.py",
        *("--pupils", "120", "--missing", "12", "--answers", "1", "--runs", "calls=50"),
        *("--max-seconds", "60", "--clock", morning, "--json", str(report)),
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(report.read_text())["sqlite"]["50 calls/s"]
    assert figures["missing"] == 12
    assert figures["sms_arrived"] == figures["sms_expected"] == 24
    assert figures["sms_all_seconds"] is not None
    assert figures["calls_left"] == 0
    assert figures["calls_placed"] <= 24, "no guardian is called twice"
    assert figures["calls_all_seconds"] is not None
    [alert] = figures["alert_seconds"]
    assert alert is not None and alert == figures["alert_max_seconds"]


def test_the_sync_benchmark_syncs_a_delta_and_the_same_data_again(tmp_path: Path) -> None:
    report = tmp_path / "sync.json"
    completed = _run_script(
        "scripts/bench_sync.py", "--pupils", "300", "--db", "sqlite", "--json", str(report)
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(report.read_text())["sqlite"]
    assert figures["full"]["added"] == 300
    assert figures["full"]["guardians_linked"] == 600
    assert figures["delta"]["left"] == 20, "15 enrolments ended and 5 pupils deleted"
    assert figures["again"] == dict.fromkeys(figures["again"], 0), "the same data changes nothing"
    assert figures["active_pupils"] == 280
