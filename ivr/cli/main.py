"""``ivr``: install, import rosters, serve, and place simulated calls."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.domain.countries import COUNTRIES, UnknownCountry, country
from ivr.domain.phone import InvalidPhoneNumber, for_display, normalise
from ivr.domain.statuses import MessageStatus
from ivr.i18n import available_languages, load_catalogue
from ivr.jobs import side_jobs
from ivr.logs import configure_logging, uvicorn_log_config
from ivr.roster.csv_file import Roster, RosterInvalid, read_roster
from ivr.roster.demo import (
    DEMO_CALLER,
    DEMO_EXAMPLE_PUPIL,
    DEMO_LINES,
    DEMO_NORWAY_CALLER,
    DEMO_NORWAY_LINES,
    DEMO_NORWAY_ORGANISATION,
    DEMO_ORGANISATION,
    DemoPupil,
    demo_norwegian_pupils,
    demo_pupils,
    demo_roster_csv,
)
from ivr.settings import Settings, get_settings
from ivr.store import migrate
from ivr.store.absences import list_absences
from ivr.store.calls import CallerActivity, refusals_by_reason, suspicious_callers
from ivr.store.db import Database
from ivr.store.lines import (
    ensure_organisation,
    find_organisation,
    list_numbers,
    list_organisations,
    set_number,
)
from ivr.store.models import Organisation, School
from ivr.store.outbox import list_messages, requeue
from ivr.store.roster import ImportSummary, RosterConflict, import_roster

app = typer.Typer(help="Telephone absence line for schools.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
roster_app = typer.Typer(help="Pupils and guardians.", no_args_is_help=True)
absences_app = typer.Typer(help="Reported absences.", no_args_is_help=True)
outbox_app = typer.Typer(
    help="Confirmations waiting to be sent, sent and failed.", no_args_is_help=True
)
org_app = typer.Typer(help="Organisations (municipalities, school owners).", no_args_is_help=True)
number_app = typer.Typer(help="The phone numbers guardians call.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (roster_app, "roster"),
    (absences_app, "absences"),
    (outbox_app, "outbox"),
    (org_app, "org"),
    (number_app, "number"),
):
    app.add_typer(sub, name=name)

console = Console()
errors = Console(stderr=True)
_T = TypeVar("_T")


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _with_session(work: Callable[[Session, Settings], _T], upgrade: bool = True) -> _T:
    """Run ``work`` in one transaction on an up-to-date database; it commits if ``work`` returns."""
    settings = get_settings()
    if upgrade:
        migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        return database.transaction(lambda session: work(session, settings))
    finally:
        database.dispose()


class _DryRun(Exception):
    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary


# --- serve -------------------------------------------------------------------------------


@app.command()
def worker() -> None:
    """Send confirmations: the dispatcher alone, for deployments with several processes.
    Stops cleanly on SIGTERM or Ctrl-C: sends in progress finish, the rest is handed back."""
    settings = get_settings()
    configure_logging(json=settings.log_format == "json")
    migrate.upgrade(settings.database_url)
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    from ivr.notify.dispatcher import Dispatcher
    from ivr.notify.gateways import build_gateways

    database = Database(settings.database_url, serving=True)
    gateways = build_gateways(settings)
    dispatcher = Dispatcher(database, gateways, settings, jobs=side_jobs(database, settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    errors.print(f"Worker {dispatcher.name} sending confirmations; SIGTERM or Ctrl-C stops it.")
    try:
        await dispatcher.run(stop)
    finally:
        for gateway in gateways.values():
            await gateway.close()
        await database.aclose()
    errors.print(
        f"Worker stopped: {dispatcher.sent} sent, {dispatcher.retried} to retry, "
        f"{dispatcher.failed} failed."
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Upgrade the database to the latest migration, then answer calls."""
    import uvicorn

    settings = get_settings()
    configure_logging(json=settings.log_format == "json")
    if settings.env == "development" and "public_base_url" not in settings.model_fields_set:
        # Signatures are checked against the public URL; in development that is this server.
        os.environ["IVR_PUBLIC_BASE_URL"] = f"http://{host}:{port}"
        get_settings.cache_clear()
        settings = get_settings()
    migrate.upgrade(settings.database_url)
    console.print(
        f"Absence line on http://{host}:{port} (public URL {settings.public_base_url}), "
        f"database {_safe_url(settings.database_url)}"
    )
    uvicorn.run(
        "ivr.voice.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=uvicorn_log_config(),
        # Webhooks are logged by the line itself, without their personal data; uvicorn's
        # access log would add a line per request, with query strings (staff tokens).
        access_log=False,
        proxy_headers=False,
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- db ----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration not yet applied."""
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    console.print(f"Database {_safe_url(settings.database_url)} is up to date.")


# --- organisations and numbers -------------------------------------------------------------


@org_app.command("add")
def org_add(
    name: str,
    timezone: Annotated[
        str | None, typer.Option(help="Default: the country's, or IVR_TIMEZONE.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Default: the country's, or IVR_LANGUAGE.")
    ] = None,
    country_code: Annotated[
        str | None,
        typer.Option(
            "--country",
            help=f"{' or '.join(COUNTRIES)}: how pupils are identified, dates keyed and "
            "which days are holidays. Default: IVR_COUNTRY.",
        ),
    ] = None,
) -> None:
    """Add an organisation (or leave an existing one as it is).

    An organisation in another country than IVR_COUNTRY starts with that country's time
    zone and language (Norway: Europe/Oslo, nb) unless told otherwise."""
    settings = get_settings()
    try:
        rules = country(country_code or settings.country)
    except UnknownCountry as error:
        raise _fail(str(error)) from None
    at_home = rules.code == settings.country
    zone = timezone or (settings.timezone if at_home else rules.timezone)
    speaks = language or (settings.language if at_home else rules.language)
    if speaks not in available_languages(settings.catalogue_dir):
        raise _fail(f"no catalogue for language {speaks!r}")

    def work(session: Session, _settings: Settings) -> Organisation:
        ZoneInfo(zone)
        return ensure_organisation(session, name, zone, speaks, rules.code)

    organisation = _with_session(work)
    console.print(
        f"Organisation {organisation.name!r} ({organisation.country}, {organisation.timezone}, "
        f"{organisation.language})."
    )


@org_app.command("list")
def org_list() -> None:
    """List organisations."""

    def work(session: Session, _settings: Settings) -> list[Organisation]:
        return list_organisations(session)

    table = Table("name", "country", "time zone", "language")
    for organisation in _with_session(work):
        table.add_row(
            organisation.name, organisation.country, organisation.timezone, organisation.language
        )
    console.print(table)


@number_app.command("add")
def number_add(
    number: str,
    org: Annotated[str, typer.Option(help="The organisation that answers this number.")],
    language: Annotated[
        str | None, typer.Option(help="The language calls to this number start in.")
    ] = None,
    offer_language: Annotated[
        str | None,
        typer.Option(
            help="A second language the first prompt offers on key 8 (costs every caller "
            "about two seconds, so off unless set)."
        ),
    ] = None,
) -> None:
    """Tie a phone number guardians call to an organisation (and a language).

    A caller who is a registered guardian with a preferred language hears that language
    instead, whatever the number's."""
    try:
        e164 = normalise(number)
    except InvalidPhoneNumber as error:
        raise _fail(f"{number!r}: {error}") from None
    languages = available_languages(get_settings().catalogue_dir)
    for chosen in (language, offer_language):
        if chosen and chosen not in languages:
            raise _fail(f"no catalogue for language {chosen!r}")

    def work(session: Session, _settings: Settings) -> None:
        organisation = find_organisation(session, org)
        if organisation is None:
            raise _fail(f"no organisation {org!r}; add it with `ivr org add`")
        set_number(session, organisation, e164, language, offer_language)

    _with_session(work)
    console.print(
        f"{e164} now answers for {org}"
        + (f" in {language}" if language else "")
        + (f", offering {offer_language} on key 8" if offer_language else "")
        + "."
    )


@number_app.command("list")
def number_list() -> None:
    """List the numbers guardians call."""

    def work(session: Session, _settings: Settings) -> list[tuple[str, str, str, str]]:
        return [
            (
                number.number,
                organisation.name,
                number.language or organisation.language,
                number.offer_language or "",
            )
            for number, organisation in list_numbers(session)
        ]

    table = Table("number", "organisation", "language", "offers")
    for row in _with_session(work):
        table.add_row(*row)
    console.print(table)


# --- roster ------------------------------------------------------------------------------


def _organisation_for_import(session: Session, name: str | None) -> Organisation:
    if name is not None:
        organisation = find_organisation(session, name)
        if organisation is None:
            raise _fail(f"no organisation {name!r}; add it with `ivr org add`")
        return organisation
    organisations = list_organisations(session)
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise _fail("there is no organisation yet; add one with `ivr org add NAME`")
    raise _fail("there are several organisations; say which with --org")


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )


def _import(
    data: bytes, organisation_name: str | None, dry_run: bool, quiet: bool = False
) -> ImportSummary:
    roster: Roster | None = None

    def work(session: Session, settings: Settings) -> ImportSummary:
        nonlocal roster
        organisation = _organisation_for_import(session, organisation_name)
        # Numbers and phones are read the organisation's country's way; "today" is there.
        today = datetime.now(ZoneInfo(organisation.timezone)).date()
        languages = available_languages(settings.catalogue_dir)
        roster = read_roster(data, today, languages, organisation.country)
        with _progress() as progress:
            task = progress.add_task("Importing pupils", total=len(roster.pupils))
            summary = import_roster(
                session,
                organisation.id,
                roster,
                settings.personal_number_key,
                progress=lambda done: progress.update(task, completed=done),
            )
        if dry_run:
            raise _DryRun(summary)
        return summary

    try:
        summary = _with_session(work)
    except RosterInvalid as invalid:
        _report_errors(invalid.errors)
        raise typer.Exit(1) from None
    except _DryRun as dry:
        assert roster is not None
        _print_summary(dry.summary, roster, dry_run=True)
        return dry.summary
    except RosterConflict as conflict:
        _report_errors(conflict.errors)
        raise typer.Exit(1) from None
    assert roster is not None
    if not quiet:
        _print_summary(summary, roster, dry_run=False)
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


@roster_app.command("import")
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
    _import(file.read_bytes(), org, dry_run)


# --- demo --------------------------------------------------------------------------------


@app.command()
def demo() -> None:
    """Load a demo organisation, schools, pupils and guardians, and show how to call; and a
    small Norwegian one (synthetic fødselsnummer), to call in Norway."""
    settings = get_settings()

    def work(session: Session, settings: Settings) -> None:
        organisation = ensure_organisation(
            session, DEMO_ORGANISATION, settings.timezone, settings.language, "SE"
        )
        for number, language in DEMO_LINES.items():
            set_number(session, organisation, number, language)
        norway = country("NO")
        norwegian = ensure_organisation(
            session, DEMO_NORWAY_ORGANISATION, norway.timezone, norway.language, norway.code
        )
        for number, offer in DEMO_NORWAY_LINES.items():
            set_number(session, norwegian, number, None, offer_language=offer)

    _with_session(work)
    pupils = demo_pupils()
    _import(demo_roster_csv(pupils), DEMO_ORGANISATION, dry_run=False, quiet=True)
    norwegian_pupils = demo_norwegian_pupils()
    _import(demo_roster_csv(norwegian_pupils), DEMO_NORWAY_ORGANISATION, dry_run=False, quiet=True)
    _print_demo_pupils(f"{DEMO_ORGANISATION}: demo pupils (test personal numbers)", pupils, 2)
    _print_demo_pupils(
        f"{DEMO_NORWAY_ORGANISATION} (Norway): demo pupils (synthetic fødselsnummer)",
        norwegian_pupils,
        0,
    )
    line = next(iter(DEMO_LINES))
    example = pupils[DEMO_EXAMPLE_PUPIL]
    caller = example.guardians[0][1]
    lines = ", ".join(f"{n} ({lang or settings.language})" for n, lang in DEMO_LINES.items())
    norway_line = next(iter(DEMO_NORWAY_LINES))
    console.print(
        f"Lines: {lines}; in Norway {norway_line} (nb, English on key 8)\n"
        "Place a call (whole day today) while the server runs:\n"
        f"  ivr call --to {line} --from {caller} {example.personal_number[2:]} 9\n"
        f"  ivr call --to {norway_line} --from {DEMO_NORWAY_CALLER} "
        f"{norwegian_pupils[0].personal_number} 9\n"
        "or without keys for an interactive call:\n"
        f"  ivr call --to {line} --from {caller}"
    )


def _print_demo_pupils(title: str, pupils: list[DemoPupil], digits_from: int) -> None:
    table = Table(title=title)
    for column in ("personal number", "pupil", "school", "group", "guardians"):
        table.add_column(column)
    for pupil in pupils:
        table.add_row(
            pupil.personal_number[digits_from:],
            f"{pupil.first_name} {pupil.last_name}",
            pupil.school,
            pupil.group,
            ", ".join(f"{name} {for_display(phone)}" for name, phone, _e, _l in pupil.guardians),
        )
    console.print(table)


# --- call --------------------------------------------------------------------------------


@app.command()
def call(
    keys: Annotated[
        list[str] | None,
        typer.Argument(help="Keys for each prompt in turn; '' is silence. None: interactive."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="The line's base URL. Default: IVR_PUBLIC_BASE_URL.")
    ] = None,
    from_: Annotated[str, typer.Option("--from", help="The caller's number.")] = DEMO_CALLER,
    to: Annotated[str, typer.Option(help="The number called.")] = next(iter(DEMO_LINES)),
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the outcome and call time.")
    ] = False,
) -> None:
    """Place a simulated call. Exit status 0 if an absence was recorded.

    Ends with an estimate of how long the call took the caller: speech at each language's
    speaking rate, half a second a key, and the gathers' waits (see ivr/call_time.py)."""
    from ivr.cli.simulator import CallFailed, CallSimulator, keys_from_list

    settings = get_settings()
    base_url = url or settings.public_base_url
    simulator = CallSimulator(
        base_url,
        settings.twilio_auth_token.get_secret_value(),
        caller=from_,
        called=to,
        account_sid=settings.twilio_account_sid,
        show=(lambda _line: None) if quiet else _show_line,
        speech_rates=_speech_rates(settings),
    )
    source = keys_from_list(list(keys)) if keys else _ask_keys
    try:
        result = simulator.place(source)
    except CallFailed as error:
        raise _fail(str(error), code=2) from None
    except httpx.HTTPError as error:
        raise _fail(f"could not reach {base_url}: {error}", code=2) from None
    call_time = f"Call time (estimate): {result.call_time}."
    if result.recorded:
        console.print(f"Recorded: {', '.join(result.references)} ({result.ended_by}). {call_time}")
        return
    console.print(f"No absence recorded ({result.ended_by}). {call_time}")
    raise typer.Exit(1)


def _show_line(line: str) -> None:
    console.print(line, markup=False, highlight=False)


def _speech_rates(settings: Settings) -> dict[str, float]:
    """Each catalogue's speaking rate (``meta.characters_per_second``), by language."""
    rates: dict[str, float] = {}
    for language in available_languages(settings.catalogue_dir):
        texts = load_catalogue(language, settings.catalogue_dir).texts
        rate = texts.get("meta.characters_per_second")
        if rate:
            rates[texts["meta.say_language"].split("-")[0].lower()] = float(rate)
    return rates


def _ask_keys() -> str | None:
    try:
        answer = console.input("[bold]keys[/bold] (Enter: silence, q: hang up) > ")
    except EOFError:
        return None
    return None if answer.strip().lower() == "q" else answer.strip()


# --- listings ----------------------------------------------------------------------------


@absences_app.command("list")
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
                    "pupil": f"{listing.pupil.first_name} {listing.pupil.last_name}",
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

    rows = _with_session(work)
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


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None,
        typer.Option(help=f"Only messages with this status: {', '.join(MessageStatus)}."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
) -> None:
    """Confirmations: pending, sent and failed, and why."""
    if status is not None and status not in set(MessageStatus):
        raise _fail(f"status must be one of {', '.join(MessageStatus)}")

    def work(session: Session, _settings: Settings) -> list[dict[str, object]]:
        return [
            {
                "id": message.id,
                "absence_reference": reference,
                "kind": message.kind,
                "channel": message.channel,
                "to": message.address,
                "language": message.language,
                "status": message.status,
                "attempts": message.attempts,
                "next_attempt_at": message.next_attempt_at.isoformat(),
                "sent_at": message.sent_at.isoformat() if message.sent_at else None,
                "provider_id": message.provider_id,
                "last_error": message.last_error,
                "body": message.body,
            }
            for message, reference in list_messages(session, status, limit)
        ]

    rows = _with_session(work)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("absence", "channel", "to", "status", "attempts", "last error")
    for row in rows:
        table.add_row(
            str(row["absence_reference"]),
            str(row["channel"]),
            str(row["to"]),
            str(row["status"]),
            str(row["attempts"]),
            str(row["last_error"] or ""),
        )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    reference: Annotated[str, typer.Argument(help="The absence reference (as in the SMS).")],
) -> None:
    """Send the failed confirmations of an absence again."""

    def work(session: Session, _settings: Settings) -> int:
        return requeue(session, reference.strip().upper(), datetime.now(UTC))

    count = _with_session(work)
    if count == 0:
        raise _fail(f"no failed confirmation of an absence {reference!r}")
    console.print(f"{count} confirmation(s) of {reference.upper()} queued again.")


# --- staff (a module of its own; it uses the helpers above) ----------------------------------

from ivr.cli.staff import staff_app  # noqa: E402

app.add_typer(staff_app, name="staff")


# --- security ------------------------------------------------------------------------------

security_app = typer.Typer(help="Attempts to misuse the line.", no_args_is_help=True)
app.add_typer(security_app, name="security")


@security_app.command("report")
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

    callers, refusals = _with_session(work)
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


# --- schools -------------------------------------------------------------------------------

school_app = typer.Typer(help="Schools.", no_args_is_help=True)
app.add_typer(school_app, name="school")


@school_app.command("retention")
def school_retention(
    school: str,
    days: Annotated[
        int | None, typer.Argument(min=1, help="Days to keep an absence after it ends.")
    ] = None,
    org: Annotated[
        str | None, typer.Option(help="Organisation (needed if there are several).")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Back to IVR_ABSENCE_RETENTION_DAYS.")
    ] = False,
) -> None:
    """How long a school keeps reported absences after they end (shown when no DAYS)."""

    def work(session: Session, settings: Settings) -> int | None:
        organisation = _organisation_for_import(session, org)
        found = session.scalar(
            select(School).where(School.organisation_id == organisation.id, School.name == school)
        )
        if found is None:
            raise _fail(f"no school {school!r} in {organisation.name}")
        if default:
            found.absence_retention_days = None
        elif days is not None:
            found.absence_retention_days = days
        return found.absence_retention_days

    kept = _with_session(work)
    default_days = get_settings().absence_retention_days
    console.print(
        f"{school} keeps absences {kept if kept is not None else default_days} days after they end"
        + ("" if kept is not None else " (the line's default, IVR_ABSENCE_RETENTION_DAYS)")
        + "."
    )
