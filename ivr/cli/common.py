"""What every ``ivr`` command shares: output, errors, a session on the database, and the
organisation a command is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ivr.settings import Settings, get_settings
from ivr.store import migrate
from ivr.store.db import Database
from ivr.store.lines import find_organisation, list_organisations
from ivr.store.models import Organisation
from ivr.store.schools import organisations_with_school

console = Console()
errors = Console(stderr=True)
_T = TypeVar("_T")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say what is wrong (and what to do) on standard error; raise what this returns."""
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def with_session(
    work: Callable[[Session, Settings], _T], *, upgrade: bool = True, write: bool = True
) -> _T:
    """Run ``work`` in one transaction on an up-to-date database. It commits if ``work``
    returns, unless ``write`` is off (a dry run): then everything is rolled back."""
    settings = get_settings()
    if upgrade:
        migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        if write:
            return database.transaction(lambda session: work(session, settings))
        with database.sessions() as session:
            try:
                return work(session, settings)
            finally:
                session.rollback()
    finally:
        database.dispose()


def organisation_named(session: Session, name: str | None) -> Organisation:
    """The organisation ``--org`` names, or the only one there is."""
    if name is not None:
        organisation = find_organisation(session, name)
        if organisation is None:
            raise fail(f"no organisation {name!r}; add it with `ivr org add`")
        return organisation
    organisations = list_organisations(session)
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise fail("there is no organisation yet; add one with `ivr org add NAME`")
    raise fail("there are several organisations; say which with --org")


def organisation_of_school(session: Session, name: str | None, school: str) -> Organisation:
    """The organisation ``--org`` names, or else the one that has ``school``."""
    if name is not None or len(list_organisations(session)) <= 1:
        return organisation_named(session, name)
    found = organisations_with_school(session, school)
    if len(found) == 1:
        return found[0]
    if not found:
        raise fail(f"no organisation has a school {school!r}; schools come from the roster")
    raise fail(f"several organisations have a school {school!r}; say which with --org")


def progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )


def safe_url(url: str) -> str:
    """A database URL fit to print: without its password."""
    return make_url(url).render_as_string(hide_password=True)
