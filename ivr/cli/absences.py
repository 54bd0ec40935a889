"""``ivr absences``: reported absences."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    with_session,
)
from ivr.domain.names import PupilName
from ivr.settings import Settings
from ivr.store.absences import list_absences

app = typer.Typer(help="Reported absences.", no_args_is_help=True)


@app.command("list")
def absences_list(
    on: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Only absences covering this day."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
) -> None:
    """Reported absences, newest report first."""
    day: date | None = on.date() if on else None

    def work(session: Session, _settings: Settings) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for listing in list_absences(session, day, limit):
            absence = listing.absence
            rows.append(
                {
                    "reference": absence.reference,
                    "pupil_id": listing.pupil.external_id,
                    "pupil": PupilName.of(listing.pupil).shown,
                    "group": listing.pupil.group_name,
                    "school": listing.school.name,
                    "start_date": absence.start_date.isoformat(),
                    "start_time": absence.start_time.strftime("%H:%M")
                    if absence.start_time
                    else None,
                    "end_date": absence.end_date.isoformat(),
                    "end_time": absence.end_time.strftime("%H:%M") if absence.end_time else None,
                    "reported_at": absence.reported_at.astimezone(
                        ZoneInfo(listing.organisation.timezone)
                    ).isoformat(),
                    "caller": absence.caller,
                    "caller_is_guardian": absence.caller_is_guardian,
                    "status": absence.status,
                }
            )
        return rows

    rows = with_session(work)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(
        "reference", "pupil", "school", "group", "from", "to", "reported", "caller", "status"
    )
    for row in rows:
        table.add_row(
            str(row["reference"]),
            str(row["pupil"]),
            str(row["school"]),
            str(row["group"]),
            f"{row['start_date']} {row['start_time'] or ''}".strip(),
            f"{row['end_date']} {row['end_time'] or ''}".strip(),
            str(row["reported_at"])[:16].replace("T", " "),
            f"{row['caller']}{' (guardian)' if row['caller_is_guardian'] else ''}",
            str(row["status"]),
        )
    console.print(table)
