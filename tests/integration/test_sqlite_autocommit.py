"""SQLite, serving: a webhook's single statements run in autocommit on the process's one
connection (``Database.run_core(atomic=False)``), so a read takes no write lock. Whatever
went through SQLAlchemy instead (which begins a transaction by itself) is committed, or
rolled back when the work fails."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url

from ivr.store.db import Database
from ivr.store.models import Organisation

pytestmark = [pytest.mark.anyio, pytest.mark.backends("sqlite")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    serving = Database(database_url, serving=True)
    yield serving
    await serving.aclose()


def _add(connection: Connection, name: str) -> None:
    connection.execute(
        sa.insert(Organisation).values(
            name=name, timezone="Europe/Stockholm", language="sv", country="SE"
        )
    )


def _names(db: sa.Engine) -> list[str]:
    with db.connect() as connection:
        return list(connection.scalars(sa.select(Organisation.name).order_by(Organisation.name)))


async def test_a_read_takes_no_write_lock(database: Database, database_url: str) -> None:
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        count = await database.run_core(
            lambda connection: connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                "SELECT count(*) FROM organisations"
            ).fetchone()[0],
            within=0.2,
            atomic=False,
        )
        assert count == 0
        with pytest.raises(TimeoutError):
            await database.run_core(lambda c: _add(c, "Låst"), within=0.2, atomic=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_what_sqlalchemy_began_is_committed(database: Database, db: sa.Engine) -> None:
    await database.run_core(lambda c: _add(c, "Solkommun"), atomic=False)
    assert _names(db) == ["Solkommun"]
    assert database._held is not None and not database._held.in_transaction()


async def test_failed_work_leaves_nothing(database: Database, db: sa.Engine) -> None:
    def add_then_fail(connection: Connection) -> None:
        _add(connection, "Halvvägs")
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):
        await database.run_core(add_then_fail, atomic=False)
    assert _names(db) == []
    await database.run_core(lambda c: _add(c, "Efteråt"), atomic=False)
    assert _names(db) == ["Efteråt"], "the connection goes on working"


async def test_a_lost_connection_is_replaced(database: Database, db: sa.Engine) -> None:
    assert database._held is not None
    database._held.invalidate()
    await database.run_core(lambda c: _add(c, "Ny förbindelse"), atomic=False)
    assert _names(db) == ["Ny förbindelse"]
