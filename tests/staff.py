"""Staff tokens, absences recorded straight through the repositories, and an HTTP client
that reads the staff feed with a token."""

from __future__ import annotations

import secrets
import time as timer
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.domain.absence import AbsencePeriod
from ivr.i18n.lookup import Catalogues
from ivr.services.reports import record_report
from ivr.services.staff_tokens import new_token, token_hash
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.lines import find_organisation
from ivr.store.models import Pupil
from ivr.store.staff import add_token, find_access, find_schools, revoke_token
from tests.clock import STOCKHOLM
from tests.conftest import LiveServer
from tests.roster_data import ANNA

_T = TypeVar("_T")
HOME = "Testkommun"


def in_session(database_url: str, work: Callable[[Session], _T]) -> _T:
    """Run ``work`` in one transaction of its own and commit."""
    database = Database(database_url)
    try:
        return database.transaction(work)
    finally:
        database.dispose()


def issue_token(
    settings: Settings, *schools: str, label: str | None = None, organisation: str = HOME
) -> str:
    """A new staff token for ``schools`` of ``organisation``."""
    token = new_token()

    def work(session: Session) -> None:
        found = find_organisation(session, organisation)
        assert found is not None
        school_ids = find_schools(session, found.id, schools)
        assert len(school_ids) == len(schools), f"not all of {schools} exist"
        add_token(
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
    def work(session: Session) -> None:
        access = find_access(session, token_hash(token, settings))
        assert access is not None
        revoke_token(session, access.token_id, datetime.now(STOCKHOLM))

    in_session(settings.database_url, work)


def record_in(
    session: Session,
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
    pupil_row = session.scalar(select(Pupil).where(Pupil.external_id == pupil))
    assert pupil_row is not None
    absence = record_report(
        session.connection(),
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


def wait_for_the_feed(database_url: str, within: float = 15.0) -> None:
    """On PostgreSQL, wait until every event written so far is settled: the feed returns
    events only below the oldest transaction running in the whole cluster (``ivr.store.feed``),
    and another test process may be running a long one in its own database."""
    if not database_url.startswith("postgresql"):
        return
    engine = sa.create_engine(database_url)
    deadline = timer.monotonic() + within
    try:
        with engine.connect() as connection:
            written = connection.scalar(sa.text("SELECT max(transaction_id) FROM feed_events"))
            if written is None:
                return
            while timer.monotonic() < deadline:
                oldest = connection.scalar(
                    sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                )
                connection.rollback()
                if oldest is not None and oldest > written:
                    return
                timer.sleep(0.02)
    finally:
        engine.dispose()


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
        """A page of the feed, once what was written before is settled."""
        wait_for_the_feed(self.server.settings.database_url)
        return self.absences_now(**params)

    def absences_now(self, **params: str) -> dict[str, Any]:
        """A page of the feed as it stands, settled or not."""
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
