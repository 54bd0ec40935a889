"""``ivr serve`` and ``ivr worker``: the line and its dispatcher as processes."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from ivr.cli.common import (
    console,
    errors,
    safe_url,
)
from ivr.logs import configure_logging, uvicorn_log_config
from ivr.settings import get_settings
from ivr.store import migrate
from ivr.worker import run_worker


def worker() -> None:
    """Send confirmations: the dispatcher alone, for deployments with several processes.
    Stops cleanly on SIGTERM or Ctrl-C: sends in progress finish, the rest is handed back."""
    settings = get_settings()
    configure_logging(json=settings.log_format == "json")
    migrate.upgrade(settings.database_url)
    asyncio.run(run_worker(settings, say=errors.print))


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
        f"database {safe_url(settings.database_url)}"
    )
    uvicorn.run(
        "ivr.app:app_from_environment",
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
