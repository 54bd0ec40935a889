"""The dispatcher, assembled: its gateways and side jobs, run in the server's process (on
SQLite) or alone as ``ivr worker``."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from ivr.notify.dispatcher import Dispatcher, dispatcher_name
from ivr.notify.gateways import build_gateways
from ivr.notify.webhook_gateway import WebhookGateway
from ivr.notify.webhook_lane import WebhookLane
from ivr.services.jobs import side_jobs
from ivr.services.webhook_relay import WebhookRelay
from ivr.settings import Settings
from ivr.store.db import Database


@asynccontextmanager
async def dispatcher_for(
    database: Database,
    settings: Settings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[Dispatcher]:
    """A dispatcher with the gateways the settings choose, and the absence webhooks' lane;
    they are closed afterwards."""
    gateways = build_gateways(settings)
    webhooks = WebhookGateway(settings, clock)
    name = dispatcher_name()
    relay = WebhookRelay(database, name, settings.outbox_poll_seconds)
    lane = WebhookLane(database, webhooks, settings, clock, relay, name)
    try:
        yield Dispatcher(
            database,
            gateways,
            settings,
            clock,
            name,
            jobs=side_jobs(database, settings),
            lanes=[lane],
        )
    finally:
        for gateway in gateways.values():
            await gateway.close()
        await webhooks.close()


async def run_worker(settings: Settings, say: Callable[[str], None]) -> None:
    """Send until SIGTERM or Ctrl-C: sends in progress finish, the rest is handed back."""
    database = Database(
        settings.database_url, serving=True, driver_statements=settings.driver_statements
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        async with dispatcher_for(database, settings) as dispatcher:
            say(f"Worker {dispatcher.name} sending confirmations; SIGTERM or Ctrl-C stops it.")
            await dispatcher.run(stop)
    finally:
        await database.aclose()
    say(
        f"Worker stopped: {dispatcher.sent} sent, {dispatcher.retried} to retry, "
        f"{dispatcher.failed} failed."
    )
