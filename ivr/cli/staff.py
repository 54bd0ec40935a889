"""``ivr staff``: staff tokens for the staff feed, and the contact teachers of each group."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import console, errors, fail, organisation_named, with_session
from ivr.roster.staff_csv import StaffFileInvalid, read_staff_file
from ivr.services.staff_tokens import new_token, token_hash
from ivr.settings import Settings
from ivr.store.staff import (
    TeacherImportSummary,
    UnknownGroups,
    add_token,
    find_schools,
    find_tokens,
    import_contact_teachers,
    label_taken,
    list_tokens,
    revoke_token,
)

staff_app = typer.Typer(
    help="School staff: tokens for the staff feed, contact teachers.", no_args_is_help=True
)
token_app = typer.Typer(help="Staff tokens: who may read which schools.", no_args_is_help=True)
staff_app.add_typer(token_app, name="token")


Org = Annotated[str | None, typer.Option(help="Organisation (needed if there are several).")]


@token_app.command("create")
def token_create(
    school: Annotated[
        list[str], typer.Option("--school", help="A school the token shows; repeat for more.")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Whose token it is, e.g. 'Solskolan office'.")
    ] = None,
    org: Org = None,
) -> None:
    """Make a token for the staff page, API, Atom feed and CSV. It is printed once only."""
    token = new_token()
    label = name.strip() if name else None

    def work(session: Session, settings: Settings) -> tuple[int, str, str]:
        organisation = organisation_named(session, org)
        schools = find_schools(session, organisation.id, set(school))
        missing = sorted(set(school) - schools.keys())
        if missing:
            raise fail(
                f"{organisation.name} has no school {', '.join(map(repr, missing))}; "
                "schools come from the roster"
            )
        if label and label_taken(session, organisation.id, label):
            raise fail(f"there is already a token named {label!r}; revoke it or pick another")
        created = add_token(
            session,
            organisation.id,
            schools.values(),
            label,
            token_hash(token, settings),
            datetime.now(UTC),
        )
        return created.id, organisation.name, settings.public_base_url

    token_id, organisation, base_url = with_session(work)
    console.print(
        f"Token {token_id}{f' ({label})' if label else ''} for {', '.join(sorted(set(school)))} "
        f"({organisation}). It is shown only now; keep it like a password:"
    )
    typer.echo(token)
    console.print(
        f"Page:  {base_url}/staff?token={token}\n"
        f"API:   {base_url}/api/v1/absences  (header 'Authorization: Bearer <token>')\n"
        f"Atom:  {base_url}/api/v1/absences.atom?token={token}\n"
        f"CSV:   {base_url}/api/v1/absences.csv?separator=semicolon&token={token}",
        soft_wrap=True,
    )


@token_app.command("list")
def token_list() -> None:
    """Every staff token: whose, which schools, and whether it is revoked."""

    def work(session: Session, _settings: Settings) -> list[tuple[str, ...]]:
        return [
            (
                str(token.id),
                token.label or "",
                organisation,
                ", ".join(school.name for school in token.schools),
                token.created_at.strftime("%Y-%m-%d %H:%M"),
                f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "valid",
            )
            for token, organisation in list_tokens(session)
        ]

    table = Table("id", "name", "organisation", "schools", "created (UTC)", "status")
    for row in with_session(work):
        table.add_row(*row)
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token's id or name (see `list`).")],
) -> None:
    """Revoke a token: it stops working at once."""

    def work(session: Session, _settings: Settings) -> tuple[int, bool]:
        found = find_tokens(session, token.strip())
        if not found:
            raise fail(f"no token {token!r}")
        if len(found) > 1:
            ids = ", ".join(str(t.id) for t in found)
            raise fail(f"several tokens are called {token!r} (ids {ids}); give the id")
        return found[0].id, revoke_token(session, found[0].id, datetime.now(UTC))

    token_id, revoked = with_session(work)
    console.print(f"Token {token_id} " + ("revoked." if revoked else "was already revoked."))


def _report(problems: Sequence[object]) -> None:
    errors.print(f"[red]The staff file was not imported: {len(problems)} problem(s).[/red]")
    for problem in problems:
        errors.print(f"  {problem}")
    errors.print("Nothing from the file was written.")


@staff_app.command("import")
def staff_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    org: Org = None,
) -> None:
    """Import contact teachers from a CSV (school,group,name,email[,phone]): all rows or
    none. Each group in the file gets exactly the teachers listed for it; a teacher's phone
    gets the SMS of an alert about a missing pupil."""
    data = file.read_bytes()

    def work(session: Session, _settings: Settings) -> TeacherImportSummary:
        organisation = organisation_named(session, org)
        teachers = read_staff_file(data, organisation.country)
        return import_contact_teachers(session, organisation.id, teachers)

    try:
        summary = with_session(work)
    except StaffFileInvalid as invalid:
        _report(invalid.errors)
        raise typer.Exit(1) from None
    except UnknownGroups as unknown:
        _report([f"line {line}: {message}" for line, message in unknown.problems])
        raise typer.Exit(1) from None
    console.print(
        f"Contact teachers: {summary.added} new, {summary.updated} changed, "
        f"{summary.unchanged} unchanged, {summary.removed} removed."
    )
