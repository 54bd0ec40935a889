"""``ivr roster``: importing pupils and guardians."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    errors,
    organisation_named,
    progress,
    with_session,
)
from ivr.i18n import available_languages
from ivr.roster.csv_file import RosterInvalid, read_roster
from ivr.roster.records import Roster
from ivr.settings import Settings
from ivr.store.roster import ImportSummary, RosterConflict, import_roster

app = typer.Typer(help="Pupils and guardians.", no_args_is_help=True)


def import_roster_file(
    data: bytes, organisation_name: str | None, dry_run: bool, quiet: bool = False
) -> ImportSummary:
    """Read, check and import a roster file: all rows or none. A dry run does the same
    work and rolls it back, so its figures are those of the real import."""
    roster: Roster | None = None

    def work(session: Session, settings: Settings) -> ImportSummary:
        nonlocal roster
        organisation = organisation_named(session, organisation_name)
        # Numbers and phones are read the organisation's country's way; "today" is there.
        today = datetime.now(ZoneInfo(organisation.timezone)).date()
        languages = available_languages(settings.catalogue_dir)
        roster = read_roster(data, today, languages, organisation.country)
        with progress() as bar:
            task = bar.add_task("Importing pupils", total=len(roster.pupils))
            return import_roster(
                session,
                organisation.id,
                roster,
                settings.personal_number_key,
                progress=lambda done: bar.update(task, completed=done),
            )

    try:
        summary = with_session(work, write=not dry_run)
    except (RosterInvalid, RosterConflict) as problems:
        _report_errors(problems.errors)
        raise typer.Exit(1) from None
    assert roster is not None
    if dry_run or not quiet:
        _print_summary(summary, roster, dry_run=dry_run)
    return summary


def _report_errors(problems: Sequence[object]) -> None:
    errors.print(f"[red]The roster was not imported: {len(problems)} problem(s).[/red]")
    for problem in problems:
        errors.print(f"  {problem}")
    errors.print("Nothing from the file was written.")


def _print_summary(summary: ImportSummary, roster: Roster, dry_run: bool) -> None:
    verb = "Would import" if dry_run else "Imported"
    console.print(
        f"{verb} {summary.rows} rows: {len(roster.pupils)} pupils "
        f"({summary.pupils_added} new, {summary.pupils_updated} changed, "
        f"{summary.pupils_unchanged} unchanged), guardians {summary.guardians_added} new and "
        f"{summary.guardians_updated} changed, links {summary.links_added} added and "
        f"{summary.links_removed} removed."
    )
    if summary.schools_added:
        console.print(f"New schools: {', '.join(summary.schools_added)}.")
    if dry_run:
        console.print("Dry run: nothing was written.")


@app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count; write nothing.")
    ] = False,
    org: Annotated[
        str | None, typer.Option(help="Organisation (needed if there are several).")
    ] = None,
) -> None:
    """Import a roster CSV: all rows or none. Bad rows are listed with their line numbers."""
    import_roster_file(file.read_bytes(), org, dry_run)
