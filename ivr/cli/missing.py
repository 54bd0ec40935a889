"""``ivr missing``: pupils not at school whom nobody reported. Marking one reaches the
guardians at once, by SMS and a call (sent by the server's dispatcher or ``ivr worker``)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    errors,
    fail,
    organisation_named,
    organisation_of_school,
    with_session,
)
from ivr.services.missing import marking
from ivr.services.missing.rules import missing_rules
from ivr.services.missing.views import MissingPupil, missing_pupils
from ivr.settings import Settings
from ivr.store import outreach as store
from ivr.store.lines import list_organisations
from ivr.store.models import Organisation, School
from ivr.store.schools import find_school

app = typer.Typer(
    help="Pupils not at school whom nobody reported: reach their guardians.",
    no_args_is_help=True,
)

Org = Annotated[
    str | None,
    typer.Option(help="Organisation (needed only if several have a school of that name)."),
]
By = Annotated[str, typer.Option(help="Who did it, as staff see it on the page.")]


def _school(session: Session, organisation: Organisation, name: str) -> School:
    found = find_school(session, organisation.id, name)
    if found is None:
        raise fail(f"no school {name!r} in {organisation.name}; see `ivr roster import`")
    return found


def _since(text: str | None) -> time | None:
    if text is None:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise fail(f"--since {text!r} is not a time of day: use HH:MM") from None


@app.command("mark")
def missing_mark(
    pupil_ids: Annotated[list[str], typer.Argument(help="The pupils' ids in the roster.")],
    school: Annotated[str, typer.Option(help="The pupils' school.")],
    since: Annotated[
        str | None, typer.Option(help="Not at school since HH:MM today (default: now).")
    ] = None,
    by: By = "command line",
    org: Org = None,
) -> None:
    """Mark pupils as not at school: their guardians get an SMS and a call at once. All or
    nothing: an unknown id marks nobody. A pupil with a report covering the moment is not
    contacted."""
    moment = _since(since)
    now = datetime.now(UTC)

    def work(session: Session, settings: Settings) -> list[marking.Marked]:
        organisation = organisation_of_school(session, org, school)
        found = _school(session, organisation, school)
        local = now.astimezone(ZoneInfo(organisation.timezone))
        if moment is not None and moment > local.time():
            raise fail(f"--since {since} is later than now ({local:%H:%M})")
        return marking.mark_missing(
            session,
            missing_rules(settings),
            organisation_id=organisation.id,
            timezone=organisation.timezone,
            school_ids=[found.id],
            pupil_ids=pupil_ids,
            by=by,
            now=now,
            since=moment,
        )

    try:
        results = with_session(work)
    except marking.UnknownPupils as unknown:
        raise fail(
            f"no such pupil at {school}: {', '.join(unknown.pupil_ids)}. Nobody was marked; "
            "check the ids against the roster."
        ) from None
    table = Table("pupil", "state", "outreach")
    for result in results:
        table.add_row(result.pupil_id, result.state.replace("_", " "), result.outreach or "")
    console.print(table)
    if any(result.state == "started" for result in results):
        errors.print(
            "The guardians are reached by the server (with SQLite) or `ivr worker`; follow "
            "it with `ivr missing list` or on the page /staff."
        )


def _school_ids(session: Session, organisation: Organisation) -> list[int]:
    return list(session.scalars(select(School.id).where(School.organisation_id == organisation.id)))


@app.command("list")
def missing_list(
    on: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="The day (default: today)."),
    ] = None,
    school: Annotated[str | None, typer.Option(help="Only this school.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts, as the API.")] = False,
    org: Org = None,
) -> None:
    """The day's missing pupils and what the line has done for each, newest first."""

    def work(session: Session, _settings: Settings) -> list[MissingPupil]:
        if school is not None:
            organisation = organisation_of_school(session, org, school)
            organisations = [(organisation, [_school(session, organisation, school).id])]
        else:
            chosen = [organisation_named(session, org)] if org else list_organisations(session)
            organisations = [
                (organisation, _school_ids(session, organisation)) for organisation in chosen
            ]
        outreach_ids = []
        for organisation, school_ids in organisations:
            day = on.date() if on else datetime.now(ZoneInfo(organisation.timezone)).date()
            outreach_ids += store.outreaches_of(session, school_ids, day)
        return missing_pupils(session, outreach_ids)

    found = with_session(work, write=False)
    if as_json:
        rows = [pupil.model_dump(mode="json") for pupil in found]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not found:
        console.print("Nobody is marked as not at school on that day.")
    for pupil in found:
        status: str = pupil.status
        if pupil.alert is not None:
            alert = "alert" if pupil.status == "missing" else "after an alert"
            status += f" ({alert}: {pupil.alert.reason})"
        console.print(
            f"{pupil.reference}  {pupil.pupil} ({pupil.group}, {pupil.school})  {status}  "
            f"marked {pupil.marked.at:%H:%M} by {pupil.marked.by}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for contact in pupil.contacts:
            answer = f"  answered: {contact.answer}" if contact.answer else ""
            console.print(
                f"    {contact.name}  {contact.phone or 'no phone'}  sms {contact.sms or '-'}  "
                f"call {contact.call or '-'} ({contact.calls_placed} placed){answer}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


@app.command("arrived")
def missing_arrived(
    reference: Annotated[str, typer.Argument(help="The outreach (from `ivr missing list`).")],
    by: By = "command line",
    org: Org = None,
) -> None:
    """The pupil is at school: stop the outreach; the guardians already reached are told."""
    now = datetime.now(UTC)

    def work(session: Session, settings: Settings) -> bool:
        chosen = [organisation_named(session, org)] if org else list_organisations(session)
        school_ids = [id_ for organisation in chosen for id_ in _school_ids(session, organisation)]
        outreach_id = store.find_outreach(session, school_ids, reference)
        if outreach_id is None:
            raise fail(f"no outreach {reference!r}; see `ivr missing list`")
        return marking.arrived(
            session, missing_rules(settings), outreach_id=outreach_id, by=by, now=now
        )

    if with_session(work):
        console.print(f"Outreach {reference} stopped: the pupil is at school.")
    else:
        console.print(f"Outreach {reference} had already ended; nothing changed.")
