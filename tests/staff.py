"""Staff tokens, absences recorded straight through the repositories, and an HTTP client
that reads the staff feed with a token."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.absence import AbsencePeriod
from ivr.feed.access import new_token, token_hash
from ivr.i18n.lookup import Catalogues
from ivr.reports import record_report
from ivr.settings import Settings
from ivr.store.db import create_engine, session_factory
from ivr.store.lines import find_organisation
from ivr.store.models import Pupil
from ivr.store.staff import add_token, find_access, find_schools, revoke_token
from tests.conftest import STOCKHOLM, LiveServer
from tests.roster_data import ANNA

_T = TypeVar("_T")
HOME = "Testkommun"


def in_session(database_url: str, work: Callable[[AsyncSession], Awaitable[_T]]) -> _T:
    """Run ``work`` in one transaction of its own and commit. In a thread of its own, so
    that a test may call it while another event loop runs (Playwright's, say)."""

    async def run() -> _T:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, run()).result()


def issue_token(
    settings: Settings, *schools: str, label: str | None = None, organisation: str = HOME
) -> str:
    """A new staff token for ``schools`` of ``organisation``."""
    token = new_token()

    async def work(session: AsyncSession) -> None:
        found = await find_organisation(session, organisation)
        assert found is not None
        school_ids = await find_schools(session, found.id, schools)
        assert len(school_ids) == len(schools), f"not all of {schools} exist"
        await add_token(
            session,
            found.id,
            school_ids.values(),
            label,
            token_hash(token, settings),
            datetime.now(STOCKHOLM),
        )

    in_session(settings.database_url, work)
    return token


def revoke(settings: Settings, token: str) -> None:
    async def work(session: AsyncSession) -> None:
        access = await find_access(session, token_hash(token, settings))
        assert access is not None
        await revoke_token(session, access.token_id, datetime.now(STOCKHOLM))

    in_session(settings.database_url, work)


async def record_in(
    session: AsyncSession,
    pupil: str,
    start: date,
    end: date | None = None,
    start_time: time | None = None,
    end_time: time | None = None,
    reported_at: datetime | None = None,
    caller: str = ANNA,
) -> str:
    """Record a report of ``pupil`` (roster id) as a call would, in ``session``; its
    reference."""
    pupil_row = await session.scalar(select(Pupil).where(Pupil.external_id == pupil))
    assert pupil_row is not None
    absence = await record_report(
        session,
        organisation_id=pupil_row.organisation_id,
        pupil_id=pupil_row.id,
        period=AbsencePeriod(start, start_time, end or start, end_time),
        caller=caller,
        call_sid=f"CA{secrets.token_hex(16)}",
        number_in_call=1,
        reported_at=reported_at or datetime.combine(start, time(7, 0), STOCKHOLM),
        catalogue_for=Catalogues("sv"),
    )
    return absence.reference


def record(database_url: str, pupil: str, start: date, **details: Any) -> str:
    """Record a report in a transaction of its own (past days too, unlike the phone)."""
    return in_session(database_url, lambda session: record_in(session, pupil, start, **details))


def days_back(day: date, count: int) -> list[date]:
    return [day - timedelta(days=offset) for offset in range(count)]


class Staff:
    """Someone reading the staff feed with a token in the ``Authorization`` header."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.server = server
        self.token = token
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, params=params)

    def absences(self, **params: str) -> dict[str, Any]:
        response = self.get("/api/v1/absences", **params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    def references(self, **params: str) -> list[str]:
        return [absence["reference"] for absence in self.absences(**params)["absences"]]

    def acknowledge(self, reference: str) -> httpx.Response:
        return self.client.post(f"/api/v1/absences/{reference}/acknowledge")

    def cancel(self, reference: str, reason: str) -> httpx.Response:
        return self.client.post(f"/api/v1/absences/{reference}/cancel", json={"reason": reason})

    def close(self) -> None:
        self.client.close()
