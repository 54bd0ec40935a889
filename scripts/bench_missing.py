"""Missing-pupil benchmark: a municipality's morning. Of a roster of 10,000 pupils (20
schools, two guardians each), 1,000 are marked missing at once, each school's 50 in one
``POST /api/v1/missing`` of its own, all schools together. Measured, with the line's
default rates, at 10 calls a second, and at 10 calls and 40 SMS a second:

- the time until every guardian has the SMS (target: 60 s);
- the time until every call is placed (at 1 call a second, by design 2,000 s: the run stops
  after ``--max-seconds`` and projects from the pace it measured);
- the time from a guardian's "2" to the school's alert leaving the line (target: 5 s),
  answered by SMS at moments spread over the burst of SMS, when the queue is longest.

    .venv/bin/python scripts/bench_missing.py                      # SQLite, three runs
    .venv/bin/python scripts/bench_missing.py --db both --json out.json
    .venv/bin/python scripts/bench_missing.py --pupils 200 --missing 40 --max-seconds 30
    .venv/bin/python scripts/bench_missing.py --clock 2026-12-07T08:15:00+01:00   # a Monday

The server (``ivr serve``, dispatcher on, as on a single SQLite machine) runs in its own
process; the local Twilio API and SMTP server (``ivr.devtools.providers``) run in this one,
so that every SMS, call and email is timed as it arrives. Guardians' calls are not answered
(each rings briefly, as on a morning when nobody picks up). Everything runs on 127.0.0.1 and
stops by itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from bench.config import (
    ACCOUNT_SID,
    DEFAULT_POSTGRES_URL,
    HOST,
    IVR,
    LINE_NUMBER,
    ORGANISATION,
    TIMEZONE,
)
from bench.database import fresh_database
from bench.outreach import (
    ANSWERERS,
    CALL_FROM,
    MAIL_FROM,
    SHARED,
    SMS_FROM,
    Arrivals,
    is_missing,
    local_providers,
    school_of,
    write_roster,
    write_teachers,
)
from bench.processes import Processes, free_port, line_env, wait_healthy
from bench.roster import pupil_external_id

from ivr.devtools.providers import FakeTwilio
from ivr.devtools.reply import incoming_sms, send_sms

CLOCKED = Path(__file__).resolve().parent.parent / "tests" / "clocked.py"
TARGET_SMS_SECONDS = 60.0
TARGET_ALERT_SECONDS = 5.0


def ivr(args: argparse.Namespace, *arguments: str) -> list[str]:
    """An ``ivr`` command; on ``--clock``, its clock starting at that instant."""
    if args.clock:
        return [sys.executable, str(CLOCKED), args.clock, *arguments]
    return [str(IVR), *arguments]


def run_ivr(args: argparse.Namespace, env: dict[str, str], workdir: Path, *arguments: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own command
        ivr(args, *arguments), env=env, cwd=workdir, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ivr {' '.join(arguments)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def create_token(
    args: argparse.Namespace, env: dict[str, str], schools: list[str], workdir: Path
) -> str:
    arguments = ["staff", "token", "create", "--name", "Attendance system"]
    for school in schools:
        arguments += ["--school", school]
    output = run_ivr(args, env, workdir, *arguments)
    # The token is the one line of its own without spaces (the rest may wrap).
    [token] = [line for line in output.splitlines() if line.strip() and " " not in line]
    return token


def pending(database_url: str, channel: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            count: int = connection.execute(
                sa.text(
                    "SELECT count(*) FROM outbox WHERE channel = :channel "
                    "AND status IN ('pending', 'sending')"
                ),
                {"channel": channel},
            ).scalar_one()
            return count
    finally:
        engine.dispose()


RATE_SETTINGS = {"calls": "IVR_CALLS_PER_SECOND", "sms": "IVR_SMS_PER_SECOND"}


def parse_run(text: str) -> dict[str, str]:
    """``default``, or rates such as ``calls=10`` or ``calls=10+sms=40``: their settings."""
    if text.strip() == "default":
        return {}
    rates = dict(part.split("=", 1) for part in text.strip().split("+"))
    unknown = set(rates) - set(RATE_SETTINGS)
    if unknown:
        raise SystemExit(f"unknown rate {', '.join(sorted(unknown))}: use calls= or sms=")
    return {RATE_SETTINGS[name]: str(float(value)) for name, value in rates.items()}


def run_label(text: str) -> str:
    if text.strip() == "default":
        return "default rates"
    parts = dict(part.split("=", 1) for part in text.strip().split("+"))
    return ", ".join(f"{float(value):g} {name}/s" for name, value in parts.items())


def run_once(kind: str, run: str, args: argparse.Namespace) -> dict[str, Any]:
    label = run_label(run)
    print(f"{kind}, {label}: {args.missing:,} of {args.pupils:,} pupils", flush=True)
    missing = [i for i in range(args.pupils) if is_missing(i, args.pupils, args.missing)]
    missing = missing[: args.missing]
    by_school: dict[str, list[int]] = {}
    for index in missing:
        by_school.setdefault(school_of(index), []).append(index)
    # Answering pupils: spread over the schools, one each, at most one per group.
    answering = {
        pupils[0]: phone for pupils, phone in zip(by_school.values(), ANSWERERS, strict=False)
    }
    answering = dict(list(answering.items())[: args.answers])
    arrivals = Arrivals(frozenset(SHARED) | frozenset(ANSWERERS))
    processes = Processes()
    with (
        tempfile.TemporaryDirectory(prefix="ivr-bench-missing-") as tmp,
        fresh_database(kind, Path(tmp), args.postgres_url) as database_url,
        local_providers(arrivals) as (twilio, twilio_port, smtp_port),
    ):
        workdir = Path(tmp)
        port = free_port()
        env = line_env(database_url, port) | {
            "IVR_DISPATCHER": "on",
            "IVR_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "IVR_TWILIO_API_BASE_URL": f"http://{HOST}:{twilio_port}",
            "IVR_SMS_FROM": SMS_FROM,
            "IVR_CALL_FROM": CALL_FROM,
            "IVR_SMTP_HOST": HOST,
            "IVR_SMTP_PORT": str(smtp_port),
            "IVR_SMTP_FROM": MAIL_FROM,
            "IVR_SMTP_STARTTLS": "false",
            "IVR_LOG_LEVEL": "WARNING",
        }
        env |= parse_run(run)
        run_ivr(args, env, workdir, "db", "upgrade")
        run_ivr(args, env, workdir, "org", "add", ORGANISATION, "--timezone", TIMEZONE)
        run_ivr(args, env, workdir, "number", "add", LINE_NUMBER, "--org", ORGANISATION)
        write_roster(workdir / "roster.csv", args.pupils, answering)
        run_ivr(args, env, workdir, "roster", "import", str(workdir / "roster.csv"))
        teachers = write_teachers(workdir / "teachers.csv", answering)
        run_ivr(args, env, workdir, "staff", "import", str(workdir / "teachers.csv"))
        token = create_token(args, env, list(by_school), workdir)
        command = ivr(args, "serve", "--host", HOST, "--port", str(port), "--workers", "1")
        pid = processes.start(command, env, workdir / "server.log")
        try:
            wait_healthy(processes, pid, port, workdir / "server.log")
            return measure(
                args,
                env,
                database_url,
                port,
                token,
                by_school,
                answering,
                teachers,
                arrivals,
                twilio,
            )
        finally:
            processes.stop_all()


def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    database_url: str,
    port: int,
    token: str,
    by_school: dict[str, list[int]],
    answering: dict[int, str],
    teachers: dict[int, str],
    arrivals: Arrivals,
    twilio: FakeTwilio,
) -> dict[str, Any]:
    base = f"http://{HOST}:{port}"
    expected_sms = 2 * sum(len(pupils) for pupils in by_school.values())

    def mark(school: str, pupils: list[int]) -> float:
        with httpx.Client(base_url=base, timeout=120) as client:
            response = client.post(
                "/api/v1/missing",
                json={"pupils": [pupil_external_id(i) for i in pupils], "school": school},
                headers={"Authorization": f"Bearer {token}"},
            )
        if response.status_code != 200:
            raise RuntimeError(f"marking failed: {response.status_code} {response.text[:500]}")
        return time.monotonic()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(by_school)) as pool:
        marked_at = max(pool.map(lambda item: mark(*item), by_school.items()))

    answer_at: dict[int, float] = {}
    moments = [expected_sms * (n + 1) // (len(answering) + 1) for n in range(len(answering))]
    deadline = started + args.max_seconds
    with httpx.Client(timeout=30) as client:
        for (index, phone), moment in zip(answering.items(), moments, strict=True):
            while len(arrivals.sms) < moment and time.monotonic() < deadline:
                time.sleep(0.005)
            params = incoming_sms(phone, "2", SMS_FROM, ACCOUNT_SID)
            answer_at[index] = time.monotonic()
            send_sms(client, base, params, env["IVR_TWILIO_AUTH_TOKEN"])
    while len(arrivals.sms) < expected_sms and time.monotonic() < deadline:
        time.sleep(0.01)
    sms_times = list(arrivals.sms)
    alerts = {}
    alert_deadline = time.monotonic() + 30
    for index, at in answer_at.items():
        address = teachers[index]
        while True:
            found = [t for t, to in list(arrivals.emails) if address in to]
            if found or time.monotonic() > alert_deadline:
                break
            time.sleep(0.01)
        alerts[index] = (found[0] - at) if found else None
    while time.monotonic() < deadline and pending(database_url, "call") > 0:
        time.sleep(0.5)
    calls_left = pending(database_url, "call")
    calls = list(arrivals.calls)
    pace = (len(calls) - 1) / (calls[-1] - calls[0]) if len(calls) > 1 else 0.0
    all_calls = len(calls) + calls_left
    answered = [value for value in alerts.values() if value is not None]
    figures: dict[str, Any] = {
        "pupils": args.pupils,
        "missing": sum(len(p) for p in by_school.values()),
        "marking_seconds": round(marked_at - started, 2),
        "sms_expected": expected_sms,
        "sms_arrived": len(sms_times),
        "sms_all_seconds": round(max(sms_times) - started, 1)
        if len(sms_times) >= expected_sms
        else None,
        "sms_per_second": round(len(sms_times) / (max(sms_times) - min(sms_times)), 1)
        if len(sms_times) > 1
        else None,
        "calls_placed": len(calls),
        "calls_left": calls_left,
        "calls_per_second_measured": round(pace, 2),
        "calls_all_seconds": round(calls[-1] - started, 1) if calls and calls_left == 0 else None,
        "calls_all_projected_seconds": (
            round(calls[0] - started + all_calls / pace) if pace else None
        ),
        "alert_seconds": [
            round(value, 2) if value is not None else None for value in alerts.values()
        ],
        "alert_max_seconds": round(max(answered), 2) if answered else None,
        "targets": {"sms_seconds": TARGET_SMS_SECONDS, "alert_seconds": TARGET_ALERT_SECONDS},
    }
    print(json.dumps(figures, indent=2), flush=True)
    return figures


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--pupils", type=int, default=10_000)
    parser.add_argument("--missing", type=int, default=1_000)
    parser.add_argument(
        "--runs",
        default="default,calls=10,calls=10+sms=40",
        help="comma-separated runs: 'default' (the line's own rates) or calls=N, sms=N, "
        "joined by + (IVR_CALLS_PER_SECOND, IVR_SMS_PER_SECOND)",
    )
    parser.add_argument(
        "--answers", type=int, default=5, help=f"guardians answering 2 (at most {len(ANSWERERS)})"
    )
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop each run after this")
    parser.add_argument(
        "--clock",
        help="start the line's clock at this instant (ISO 8601, e.g. 2026-12-07T08:15:00+01:00; "
        "needs the test extra); default the real time",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not 0 < args.answers <= len(ANSWERERS):
        parser.error(f"--answers takes 1 to {len(ANSWERERS)}")
    if not 0 < args.missing <= args.pupils:
        parser.error("--missing takes 1 to --pupils")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    runs = args.runs.split(",")
    for run in runs:
        parse_run(run)
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        for run in runs:
            results.setdefault(kind, {})[run_label(run)] = run_once(kind, run, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    late = [
        f"{kind}, {label}"
        for kind, by_run in results.items()
        for label, figures in by_run.items()
        if figures["alert_max_seconds"] is None or figures["sms_arrived"] < figures["sms_expected"]
    ]
    if late:
        print(f"Not every SMS or alert arrived: {', '.join(late)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
