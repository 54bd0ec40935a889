"""``ivr security``: attempts to misuse the line."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    with_session,
)
from ivr.settings import Settings
from ivr.store.calls import CallerActivity, refusals_by_reason, suspicious_callers

app = typer.Typer(help="Attempts to misuse the line.", no_args_is_help=True)


@app.command("report")
def security_report(
    hours: Annotated[int, typer.Option(min=1, help="How far back to look.")] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Callers who keyed personal numbers that are in no roster (someone trying numbers to
    learn which children exist), and calls refused, by reason."""
    since = datetime.now(UTC) - timedelta(hours=hours)

    def work(session: Session, _settings: Settings) -> tuple[list[CallerActivity], dict[str, int]]:
        connection = session.connection()
        return suspicious_callers(connection, since), refusals_by_reason(connection, since)

    callers, refusals = with_session(work)
    if as_json:
        report = {
            "since": since.isoformat(),
            "refused_calls": refusals,
            "callers": [
                {
                    "caller": activity.caller,
                    "calls": activity.calls,
                    "unknown_personal_numbers": activity.unknown_pupils,
                    "refused_calls": activity.refused,
                    "last_call": activity.last_call.isoformat(),
                }
                for activity in callers
            ],
        }
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    console.print(
        f"Since {since:%Y-%m-%d %H:%M} UTC. Refused calls: "
        + (", ".join(f"{reason} {count}" for reason, count in sorted(refusals.items())) or "none")
    )
    table = Table("caller", "calls", "unknown personal numbers", "refused", "last call (UTC)")
    for activity in callers:
        table.add_row(
            activity.caller,
            str(activity.calls),
            str(activity.unknown_pupils),
            str(activity.refused),
            f"{activity.last_call:%Y-%m-%d %H:%M}",
        )
    console.print(table)
