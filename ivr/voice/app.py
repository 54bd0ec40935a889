"""The web application: Twilio webhooks and health checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from ivr import __version__
from ivr.i18n.lookup import Catalogues
from ivr.settings import Settings, get_settings
from ivr.store.db import create_engine, session_factory
from ivr.voice.calls import CallHandler
from ivr.voice.routes import router as voice_router


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(title="Absence line", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    app.state.calls = CallHandler(
        settings, sessions, Catalogues(settings.language, settings.catalogue_dir), clock
    )
    app.include_router(voice_router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """The database answers: ready to take calls."""
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - whatever fails, the line is not ready
            return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, 503)
        return JSONResponse({"status": "ready"})

    return app


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory ivr.voice.app:app_from_environment``."""
    return create_app()
