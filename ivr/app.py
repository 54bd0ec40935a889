"""The web application, assembled: the Twilio webhooks, the staff feed, the delivery reports
and the health routes, one database, and on SQLite the dispatcher in the same process."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp
from twilio.request_validator import RequestValidator

from ivr import __version__
from ivr.feed.routes import router as feed_router
from ivr.feed.webhook_docs import router as absence_webhooks
from ivr.i18n.lookup import Catalogues
from ivr.logs import configure_logging
from ivr.notify.routes import router as notify_router
from ivr.services.missing.rules import missing_rules
from ivr.settings import Settings, get_settings
from ivr.store.db import Database, is_sqlite
from ivr.voice.calls import CallHandler
from ivr.voice.outreach import OutreachCalls
from ivr.voice.routes import router as voice_router
from ivr.web.health import router as health_router
from ivr.web.lane import Handler, WebhookLane
from ivr.web.limits import BodySizeLimit
from ivr.worker import dispatcher_for

log = logging.getLogger(__name__)


def runs_dispatcher(settings: Settings) -> bool:
    """``auto``: with SQLite the server sends confirmations itself (one command is a working
    line); with PostgreSQL that is left to ``ivr worker`` processes."""
    if settings.dispatcher == "auto":
        return is_sqlite(settings.database_url)
    return settings.dispatcher == "on"


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    settings = settings or get_settings()
    database = Database(
        settings.database_url,
        serving=True,
        deadline_seconds=settings.webhook_deadline_seconds,
        driver_statements=settings.driver_statements,
    )
    calls = CallHandler(
        settings, database, Catalogues(settings.language, settings.catalogue_dir), clock
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not runs_dispatcher(settings):
            yield
            await database.aclose()
            return
        async with dispatcher_for(database, settings, clock) as dispatcher:
            app.state.dispatcher = dispatcher
            calls.on_recorded = dispatcher.confirmations_queued
            stop = asyncio.Event()
            task = asyncio.create_task(dispatcher.run(stop))
            yield
            stop.set()
            await task
        await database.aclose()

    app = LineApp(title="Absence line", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.database = database
    app.state.validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    app.state.calls = calls
    app.state.outreach = OutreachCalls(settings, database, calls.catalogues, clock)
    app.state.missing_rules = missing_rules(settings)
    app.state.clock = clock
    app.include_router(voice_router)
    app.include_router(notify_router)
    app.include_router(feed_router)
    app.include_router(health_router)
    app.webhooks.include_router(absence_webhooks)  # documented only: the dispatcher posts them
    app.webhooks_first = webhook_handlers(voice_router, notify_router)
    app.max_request_bytes = settings.max_request_bytes
    return app


class LineApp(FastAPI):
    """The application, with two layers outside all of FastAPI's own: the size limit,
    which sees every request, then the provider's webhooks straight to their handlers
    (``ivr.web.lane``). FastAPI's outer middleware (its error page, telemetry hooks, body
    limit) costs a webhook as much as the rest of its framework; the lane answers errors
    itself, and every other request goes on through all of it."""

    webhooks_first: dict[str, Handler]
    max_request_bytes: int

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        return BodySizeLimit(WebhookLane(inner, self.webhooks_first), self.max_request_bytes)


def webhook_handlers(*routers: APIRouter) -> dict[str, Handler]:
    """The provider's webhooks, by path: each a handler of the request alone."""
    return {
        route.path: route.endpoint
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    }


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory ivr.app:app_from_environment`` (and ``ivr serve``)."""
    settings = get_settings()
    configure_logging(json=settings.log_format == "json")
    app = create_app(settings)
    # What exists now (modules, catalogues, the app) lives as long as the process. Frozen,
    # the collector stops walking it: a full collection took over 100 ms with it, a pause
    # every call in flight would wait out.
    gc.collect()
    gc.freeze()
    return app
