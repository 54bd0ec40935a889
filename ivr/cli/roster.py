"""``ivr roster``: importing pupils and guardians."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    errors,
    fail,
    organisation_named,
    progress,
    with_session,
)
from ivr.i18n import available_languages
from ivr.roster.csv_file import RosterInvalid, read_roster
from ivr.roster.records import Roster
from ivr.roster.ss12000_client import SchoolSystemError
from ivr.services.roster_sync import SyncRefused, SyncResult, apply_roster, sync_school_system
from ivr.settings import Settings, get_settings
from ivr.store import migrate
from ivr.store.db import Database
from ivr.store.roster import RosterConflict
from ivr.store.roster_changes import ImportSummary

# Past the safety valve: the same for a full import and a sync.
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Deactivate even more than IVR_SYNC_MAX_REMOVALS_PERCENT of a school's pupils.",
    ),
]

app = typer.Typer(help="Pupils and guardians.", no_args_is_help=True)


def import_roster_file(
    data: bytes,
    organisation_name: str | None,
    dry_run: bool,
    quiet: bool = False,
    *,
    full: bool = False,
    force: bool = False,
) -> ImportSummary:
    """Read, check and import a roster file: all rows or none. A dry run does the same
    work and rolls it back, so its figures are those of the real import. ``full``: the
    file is the whole roster of its schools, so their pupils it does not list have left."""
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
            return apply_roster(
                session,
                organisation.id,
                roster,
                settings.personal_number_key,
                datetime.now(UTC),
                full_schools={pupil.school for pupil in roster.pupils} if full else None,
                max_removals_percent=settings.sync_max_removals_percent,
                force=force,
                progress=lambda done: bar.update(task, completed=done),
            )

    try:
        summary = with_session(work, write=not dry_run)
    except (RosterInvalid, RosterConflict) as problems:
        _report_errors(problems.errors)
        raise typer.Exit(1) from None
    except SyncRefused as refused:
        _report_refusal(refused)
        raise typer.Exit(1) from None
    assert roster is not None
    if dry_run or not quiet:
        _print_summary(summary, roster, dry_run=dry_run)
        if full or dry_run:
            print_changes(summary)
    return summary


def _report_refusal(refused: SyncRefused) -> None:
    errors.print("[red]Nothing was written: the safety valve stopped the run.[/red]")
    for problem in refused.problems:
        errors.print(f"  {problem}")
    errors.print(
        "If these pupils really have left, run again with --force "
        "(the limit is IVR_SYNC_MAX_REMOVALS_PERCENT); otherwise check the export."
    )


def print_changes(summary: ImportSummary) -> None:
    """The diff per school: what a dry run would do, or what a run did."""
    table = Table("School", "Added", "Changed", "Left", "Returned", "Linked", "Unlinked")
    for school, c in sorted(summary.by_school.items()):
        if c.any:
            table.add_row(
                school,
                *(
                    str(n)
                    for n in (
                        c.added,
                        c.changed,
                        c.left,
                        c.returned,
                        c.guardians_linked,
                        c.guardians_unlinked,
                    )
                ),
            )
    if table.row_count:
        console.print(table)
    else:
        console.print("No pupil or guardian link changes.")


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
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="The file is the whole roster of its schools: their pupils it does not "
            "list have left and are deactivated (never deleted).",
        ),
    ] = False,
    force: Force = False,
) -> None:
    """Import a roster CSV: all rows or none. Bad rows are listed with their line numbers."""
    import_roster_file(file.read_bytes(), org, dry_run, full=full, force=force)


@app.command("sync")
def roster_sync(
    ss12000: Annotated[
        str | None,
        typer.Option(
            "--ss12000",
            help="The SS 12000 API's base URL (default IVR_SS12000_URL).",
            show_default=False,
        ),
    ] = None,
    org: Annotated[
        str | None, typer.Option(help="Organisation (needed if there are several).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and compare; print the diff, write nothing.")
    ] = False,
    force: Force = False,
    delta: Annotated[
        bool,
        typer.Option(
            "--delta", help="Only what changed since the last successful run (else everything)."
        ),
    ] = False,
) -> None:
    """Sync pupils, guardians, classes and mentors from the school's own system (SS 12000).

    Pupils no longer enrolled are deactivated (never deleted), guardians no longer
    responsible unlinked at once; a person the system describes badly is reported by id
    and left as they were."""
    settings = get_settings()
    url = ss12000 or settings.ss12000_url
    if not url:
        raise fail("say where the school system is: --ss12000 URL or IVR_SS12000_URL")
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        result = asyncio.run(
            sync_school_system(
                database,
                settings,
                url,
                organisation=org,
                full=not delta,
                dry_run=dry_run,
                force=force,
                now=lambda: datetime.now(UTC),
            )
        )
    except SyncRefused as refused:
        _report_refusal(refused)
        raise typer.Exit(1) from None
    except (SchoolSystemError, LookupError) as error:
        errors.print(f"[red]Nothing was written: {error}[/red]")
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    _print_sync(result, url, dry_run)


def _print_sync(result: SyncResult, url: str, dry_run: bool) -> None:
    kind = "Full sync" if result.full else "Delta"
    verb = "would change" if dry_run else "changed"
    console.print(f"{kind} of {result.organisation} from {url}: {verb}")
    print_changes(result.summary)
    if result.summary.schools_added:
        console.print(f"New schools: {', '.join(result.summary.schools_added)}.")
    for old, new in sorted(result.renamed.items()):
        console.print(f"School renamed: {old} -> {new}.")
    console.print(f"Mentors as contact teachers: {result.mentors}.")
    for problem in result.problems:
        errors.print(f"[yellow]Left as it was: {problem}[/yellow]")
    if dry_run:
        console.print("Dry run: nothing was written.")
