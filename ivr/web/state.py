"""What the routes of every edge take from the application: the database, the clock, the texts."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from ivr.i18n import Catalogue
from ivr.i18n.lookup import Catalogues
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.staff import StaffAccess


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def catalogues_of(request: Request) -> Catalogues:
    settings = settings_of(request)
    return Catalogues(settings.language, settings.catalogue_dir)


def catalogue_for(request: Request, access: StaffAccess) -> Catalogue:
    """Staff read in their organisation's language."""
    return catalogues_of(request)(access.language)


def today_for(access: StaffAccess, now: datetime) -> date:
    return now.astimezone(ZoneInfo(access.timezone)).date()


def invalid(where: str, name: str, message: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, as the OpenAPI document describes every 422."""
    return RequestValidationError(
        [{"loc": (where, name), "msg": message, "type": "value_error", "input": None}]
    )


def wake_dispatcher(request: Request) -> None:
    """New messages wait in the outbox: the dispatcher in this process, if there is one,
    takes them now instead of at its next look."""
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake_up()
