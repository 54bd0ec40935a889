"""The web application: Twilio webhooks and health checks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from ivr import __version__, metrics
from ivr.domain.statuses import MessageStatus
from ivr.feed.routes import router as feed_router
from ivr.i18n.lookup import Catalogues
from ivr.jobs import side_jobs
from ivr.limits import BodySizeLimit
from ivr.logs import configure_logging
from ivr.notify.dispatcher import Dispatcher
from ivr.notify.gateways import build_gateways
from ivr.notify.routes import router as notify_router
from ivr.settings import Settings, get_settings
from ivr.store.db import Database, is_sqlite
from ivr.store.outbox import count_by_status
from ivr.voice.calls import CallHandler
from ivr.voice.routes import router as voice_router

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
        settings.database_url, serving=True, deadline_seconds=settings.webhook_deadline_seconds
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
        gateways = build_gateways(settings)
        dispatcher = Dispatcher(
            database, gateways, settings, clock, jobs=side_jobs(database, settings)
        )
        app.state.dispatcher = dispatcher
        calls.on_recorded = dispatcher.wake.set
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        yield
        stop.set()
        await task
        for gateway in gateways.values():
            await gateway.close()
        await database.aclose()

    app = FastAPI(title="Absence line", version=__version__, lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.state.settings = settings
    app.state.database = database
    app.state.validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    app.state.calls = calls
    app.state.clock = clock
    app.include_router(voice_router)
    app.include_router(notify_router)
    app.include_router(feed_router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"description": "The database does not answer."}},
    )
    async def readyz() -> JSONResponse:
        """The database answers: ready to take calls."""
        try:
            await database.run_core(
                lambda connection: connection.execute(text("SELECT 1")), within=2.0
            )
        except Exception as error:  # noqa: BLE001 - whatever fails, the line is not ready
            return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, 503)
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text."}},
    )
    async def prometheus_metrics() -> Response:
        """Webhooks by step and outcome, their latency, absences recorded, refused calls,
        unknown personal numbers, and the outbox by status."""
        try:
            by_status = await database.run(count_by_status, within=2.0)
        except Exception:  # noqa: BLE001 - the process's own figures are still worth serving
            by_status = {}
        for status in MessageStatus:
            metrics.OUTBOX.labels(status).set(by_status.get(status, 0))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory ivr.voice.app:app_from_environment`` (and ``ivr serve``)."""
    settings = get_settings()
    configure_logging(json=settings.log_format == "json")
    return create_app(settings)
