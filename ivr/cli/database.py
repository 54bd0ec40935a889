"""``ivr db``: the database schema."""

from __future__ import annotations

import typer

from ivr.cli.common import (
    console,
    safe_url,
)
from ivr.settings import get_settings
from ivr.store import migrate

app = typer.Typer(help="The database.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration not yet applied."""
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    console.print(f"Database {safe_url(settings.database_url)} is up to date.")
