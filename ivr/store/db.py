"""The database: engines for SQLite (the embedded default) and PostgreSQL, and where units
of work run.

A unit of work is blocking code, a function of a ``Session`` (ORM and Core queries) or of a
``Connection`` (the webhooks' statements, most of them ``ivr.store.driver`` statements; the
rule for which is in ``ivr.store``). ``Database.run`` and ``run_core`` run one in one
transaction from async code:

- on SQLite, in the event loop itself. A webhook's transaction takes a tenth of a
  millisecond there, far less than handing it to a thread and back (aiosqlite's way costs
  over a millisecond), and one connection per process means no two units of work ever
  wait for each other's lock. Another process may hold the lock (a roster import, a
  worker): then the unit of work is retried after a short async sleep, so the loop keeps
  serving, until its deadline passes.
- on PostgreSQL, through SQLAlchemy's asyncio bridge on asyncpg: the same blocking code
  runs in a greenlet and each round trip is awaited in the event loop, so the round trips
  of many webhooks overlap without threads (threads cost more here, in handing each
  round trip back and forth and in contention for the interpreter lock). The command line
  and migrations use psycopg, the driver of ``IVR_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from ivr.store import driver
from ivr.store.driver import as_sqlalchemy_error

_T = TypeVar("_T")
_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
POSTGRES_POOL = 16
LOCK_RETRY_FIRST = 0.002
LOCK_RETRY_LONGEST = 0.05


def sync_url(url: str) -> URL:
    """``url`` with the driver this project uses for it."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=_DRIVERS[backend])


def async_url(url: str) -> URL:
    """A PostgreSQL ``url`` for asyncpg, the driver of the server's event loop. libpq's
    ``sslmode`` becomes asyncpg's ``ssl`` (same values); ``connect_timeout`` is set by the
    server itself. Other libpq options are read by asyncpg from the ``PG*`` environment
    variables (``PGSSLROOTCERT``...)."""
    parsed = sync_url(url)
    query = dict(parsed.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    query.pop("connect_timeout", None)
    return parsed.set(drivername="postgresql+asyncpg", query=query)


def is_sqlite(url: str | URL) -> bool:
    return make_url(str(url) if isinstance(url, URL) else url).get_backend_name() == "sqlite"


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL so readers never wait for the writer; ``BEGIN IMMEDIATE`` so a transaction that
    reads and then writes takes the write lock up front, instead of failing when it tries
    to upgrade its read lock; ``busy_timeout`` for how long SQLite itself waits for it."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={busy_timeout_ms}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # On the driver itself, since this runs before every transaction (every webhook's).
        driver = connection.connection.driver_connection
        try:
            driver.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        except connection.dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(connection, error, "BEGIN IMMEDIATE", ()) from error


# No pre-ping: it would cost a round trip per unit of work. A connection the server dropped
# fails its first statement, SQLAlchemy then empties the pool, and the next unit of work
# connects afresh.
_POSTGRES_POOL_OPTIONS: dict[str, Any] = {
    "max_overflow": 0,
    "pool_recycle": 1800,
    "pool_timeout": 10,
}


def _execution_options(driver_statements: bool) -> dict[str, Any]:
    """``IVR_DRIVER_STATEMENTS=false``: the webhooks' statements through SQLAlchemy too."""
    return {} if driver_statements else {"execution_options": {driver.OPTION: False}}


def open_engine(
    database_url: str,
    *,
    busy_timeout_ms: int = 5000,
    statement_timeout_ms: int | None = None,
    driver_statements: bool = True,
) -> Engine:
    """The blocking engine: SQLite, or PostgreSQL through psycopg (the command line, and
    ``Database.transaction``)."""
    url = sync_url(database_url)
    if is_sqlite(url):
        engine = create_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            **_execution_options(driver_statements),
        )
        configure_sqlite(engine, busy_timeout_ms)
        return engine
    options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else None
    return create_engine(
        url,
        pool_size=5,
        **_POSTGRES_POOL_OPTIONS,
        connect_args={"connect_timeout": 2, **({"options": options} if options else {})},
        **_execution_options(driver_statements),
    )


def open_async_engine(
    database_url: str, *, statement_timeout_ms: int | None, driver_statements: bool = True
) -> AsyncEngine:
    """PostgreSQL through asyncpg, for ``Database.run`` from the event loop."""
    settings = {"statement_timeout": str(statement_timeout_ms)} if statement_timeout_ms else {}
    return create_async_engine(
        async_url(database_url),
        pool_size=POSTGRES_POOL,
        **_POSTGRES_POOL_OPTIONS,
        connect_args={"timeout": 2, **({"server_settings": settings} if settings else {})},
        **_execution_options(driver_statements),
    )


class DatabaseBusy(TimeoutError):
    """The database stayed locked by another process until the deadline."""


def _locked(error: OperationalError) -> bool:
    return "locked" in str(error.orig).lower() or "busy" in str(error.orig).lower()


class Database:
    """One database, its engine and sessions, and ``run`` for async callers."""

    def __init__(
        self,
        database_url: str,
        *,
        serving: bool = False,
        deadline_seconds: float = 2.5,
        driver_statements: bool = True,
    ) -> None:
        self.url = database_url
        self.sqlite = is_sqlite(database_url)
        # A webhook stops waiting at its deadline (``run``); the query it left behind is
        # stopped soon after, so it cannot hold a connection for long.
        statement_timeout_ms = int(max(2 * deadline_seconds, 5.0) * 1000) if serving else None
        # Serving from the event loop, SQLite must never make the loop wait for its lock:
        # it answers "locked" at once and ``run`` retries after an async sleep.
        self.engine = open_engine(
            database_url,
            busy_timeout_ms=0 if serving and self.sqlite else 5000,
            statement_timeout_ms=statement_timeout_ms,
            driver_statements=driver_statements,
        )
        # Serving SQLite, the process's one connection stays checked out: taking it from the
        # pool and giving it back would cost more than a webhook's queries.
        self._held: Connection | None = self.engine.connect() if serving and self.sqlite else None
        self.sessions = sessionmaker(
            self._held or self.engine, expire_on_commit=False, autoflush=False
        )
        # PostgreSQL from async code: the same blocking code, run by SQLAlchemy's asyncio
        # bridge on asyncpg, so every round trip is awaited in the event loop (no threads,
        # no lock between them).
        self._async: AsyncEngine | None = (
            None
            if self.sqlite
            else open_async_engine(
                database_url,
                statement_timeout_ms=statement_timeout_ms,
                driver_statements=driver_statements,
            )
        )

    def transaction(self, work: Callable[[Session], _T]) -> _T:
        """Run ``work`` in one transaction, here and now: it commits if ``work`` returns."""
        with self.sessions.begin() as session:
            return work(session)

    def core_transaction(self, work: Callable[[Connection], _T]) -> _T:
        """The same on a bare connection: for the webhooks' few Core statements, where an
        ORM session would cost more than the queries."""
        if self._held is None:
            with self.engine.begin() as connection:
                return work(connection)
        if self._held.invalidated:
            self._held.close()
            self._held = self.engine.connect()
            self.sessions.configure(bind=self._held)
        with self._held.begin():
            return work(self._held)

    async def run(self, work: Callable[[Session], _T], within: float = 10.0) -> _T:
        """Run ``work`` in one transaction without holding up the event loop for I/O.
        After ``within`` seconds it raises ``TimeoutError`` and the transaction, if it is
        still running, is rolled back instead of committed."""
        if self._async is not None:
            return await asyncio.wait_for(self._in_async_session(work), within)
        return await self._inline(partial(self.transaction, work), within)

    async def run_core(
        self, work: Callable[[Connection], _T], within: float = 10.0, *, atomic: bool = True
    ) -> _T:
        """``run`` on a bare connection. Where ``work``'s statements need no transaction
        around them (``atomic=False``: each is whole by itself), they run in autocommit,
        which spares ``BEGIN`` and ``COMMIT`` (round trips on PostgreSQL, a write lock
        taken for a mere read on SQLite)."""
        if self._async is not None:
            return await asyncio.wait_for(self._in_async_connection(work, atomic), within)
        if not atomic and self._held is not None:
            return await self._inline(partial(self._autocommit, work), within)
        return await self._inline(partial(self.core_transaction, work), within)

    def _autocommit(self, work: Callable[[Connection], _T]) -> _T:
        """SQLite without ``BEGIN IMMEDIATE``: each driver statement is a transaction by
        itself, so a read takes no write lock and there is no ``COMMIT`` to send. Anything
        that went through SQLAlchemy (which begins on its own) is committed here."""
        held = self._held
        assert held is not None
        if held.invalidated:
            return self.core_transaction(work)
        try:
            result = work(held)
        except BaseException:
            if held.in_transaction():
                held.rollback()
            raise
        if held.in_transaction():
            held.commit()
        return result

    async def _in_async_session(self, work: Callable[[Session], _T]) -> _T:
        assert self._async is not None
        async with (
            AsyncSession(self._async, expire_on_commit=False, autoflush=False) as session,
            session.begin(),
        ):
            return await session.run_sync(work)

    async def _in_async_connection(self, work: Callable[[Connection], _T], atomic: bool) -> _T:
        assert self._async is not None
        if not atomic:
            async with self._async.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                return await connection.run_sync(work)
        async with self._async.begin() as connection:
            return await connection.run_sync(work)

    async def _inline(self, transaction: Callable[[], _T], within: float) -> _T:
        """SQLite: the transaction runs here, in the event loop; if another process holds
        the lock, it is tried again after a short async sleep until ``within`` has passed."""
        deadline = time.monotonic() + within
        pause = LOCK_RETRY_FIRST
        while True:
            try:
                return transaction()
            except OperationalError as error:
                if not _locked(error):
                    raise
                if time.monotonic() + pause > deadline:
                    raise DatabaseBusy("the database is locked by another process") from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, LOCK_RETRY_LONGEST)

    async def aclose(self) -> None:
        """``dispose`` for a database used from async code (``run``), in its event loop."""
        if self._async is not None:
            await self._async.dispose()
        self.dispose()

    def dispose(self) -> None:
        if self._held is not None:
            self._held.close()
        self.engine.dispose()
