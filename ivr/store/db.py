"""The database: engines for SQLite (the embedded default) and PostgreSQL, and where units
of work run.

Every query is plain blocking SQLAlchemy (``Session``, or ``Connection`` for the webhooks'
few Core statements). ``Database.run`` runs one unit of work, a function of a session, in
one transaction, from async code:

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import ClauseElement, Dialect, Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

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
            raise _as_sqlalchemy_error(connection, error, "BEGIN IMMEDIATE", ()) from error


# No pre-ping: it would cost a round trip per unit of work. A connection the server dropped
# fails its first statement, SQLAlchemy then empties the pool, and the next unit of work
# connects afresh.
_POSTGRES_POOL_OPTIONS: dict[str, Any] = {
    "max_overflow": 0,
    "pool_recycle": 1800,
    "pool_timeout": 10,
}


def open_engine(
    database_url: str, *, busy_timeout_ms: int = 5000, statement_timeout_ms: int | None = None
) -> Engine:
    """The blocking engine: SQLite, or PostgreSQL through psycopg (the command line, and
    ``Database.transaction``)."""
    url = sync_url(database_url)
    if is_sqlite(url):
        engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=30)
        configure_sqlite(engine, busy_timeout_ms)
        return engine
    options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else None
    return create_engine(
        url,
        pool_size=5,
        **_POSTGRES_POOL_OPTIONS,
        connect_args={"connect_timeout": 2, **({"options": options} if options else {})},
    )


def open_async_engine(database_url: str, *, statement_timeout_ms: int | None) -> AsyncEngine:
    """PostgreSQL through asyncpg, for ``Database.run`` from the event loop."""
    settings = {"statement_timeout": str(statement_timeout_ms)} if statement_timeout_ms else {}
    return create_async_engine(
        async_url(database_url),
        pool_size=POSTGRES_POOL,
        **_POSTGRES_POOL_OPTIONS,
        connect_args={"timeout": 2, **({"server_settings": settings} if settings else {})},
    )


class DatabaseBusy(TimeoutError):
    """The database stayed locked by another process until the deadline."""


def _locked(error: OperationalError) -> bool:
    return "locked" in str(error.orig).lower() or "busy" in str(error.orig).lower()


class Database:
    """One database, its engine and sessions, and ``run`` for async callers."""

    def __init__(
        self, database_url: str, *, serving: bool = False, deadline_seconds: float = 2.5
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
            else open_async_engine(database_url, statement_timeout_ms=statement_timeout_ms)
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

    async def run_core(self, work: Callable[[Connection], _T], within: float = 10.0) -> _T:
        if self._async is not None:
            return await asyncio.wait_for(self._in_async_connection(work), within)
        return await self._inline(partial(self.core_transaction, work), within)

    async def _in_async_session(self, work: Callable[[Session], _T]) -> _T:
        assert self._async is not None
        async with (
            AsyncSession(self._async, expire_on_commit=False, autoflush=False) as session,
            session.begin(),
        ):
            return await session.run_sync(work)

    async def _in_async_connection(self, work: Callable[[Connection], _T]) -> _T:
        assert self._async is not None
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


class DriverStatement:
    """A statement that every webhook runs, sent straight to the database driver.

    SQLAlchemy's execution path costs several times what SQLite takes to run such a
    statement, so the few statements of the webhooks skip it: each is written once as a
    Core statement (with only ``bindparam`` values), or as a function of the dialect where
    the databases need different SQL, compiled once per database kind, and run on the
    driver's cursor inside the connection's transaction. Values go through their column
    types' own bind processors, and rows read with ``first``/``all`` through the result
    processors (dates and moments on SQLite), so what is stored and read back is exactly
    what SQLAlchemy itself would store and read.
    """

    def __init__(self, statement: ClauseElement | Callable[[Dialect], ClauseElement]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name + dialect.driver)
        if compiled is None:
            statement = (
                self.statement
                if isinstance(self.statement, ClauseElement)
                else self.statement(dialect)
            )
            sql = statement.compile(dialect=dialect)
            assert isinstance(sql, SQLCompiler), "a SQL statement"
            processors: dict[str, Callable[[Any], Any]] = {}
            # Values written into the statement itself (a LIMIT 1, say) are binds too:
            # converted here, once.
            fixed: dict[str, Any] = {}
            for bind, name in sql.bind_names.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
                if not bind.required:
                    value = bind.effective_value
                    fixed[name] = value if processor is None else processor(value)
            # Columns the statement leaves to their Python-side defaults (``default=``).
            defaults: dict[str, Callable[[], Any]] = {}
            for column in (*sql.insert_prefetch, *sql.update_prefetch):
                default = column.onupdate if column in sql.update_prefetch else column.default
                defaults[column.key] = _default_value(default)
            readers = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in getattr(statement, "exported_columns", ())
            )
            compiled = _Compiled(
                str(sql),
                sql.positiontup,
                processors,
                fixed,
                defaults,
                readers if any(readers) else None,
            )
            self._compiled[dialect.name + dialect.driver] = compiled
        return compiled

    def run(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Execute with ``values`` (by bind name); the driver's cursor, to fetch from (its
        rows as the driver gives them: use ``first`` or ``all`` for typed values)."""
        compiled = self._for(connection.dialect)
        cursor = _driver_cursor(connection)
        parameters = compiled.parameters(values)
        try:
            cursor.execute(compiled.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _as_sqlalchemy_error(connection, error, compiled.sql, parameters) from error
        return cursor

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row of values (``executemany``)."""
        compiled = self._for(connection.dialect)
        cursor = _driver_cursor(connection)
        parameters = [compiled.parameters(values) for values in rows]
        try:
            cursor.executemany(compiled.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _as_sqlalchemy_error(connection, error, compiled.sql, parameters) from error

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, if any. The statement is finished with (closed) either way:
        SQLite cannot commit while an ``INSERT ... RETURNING`` is still being read."""
        cursor = self.run(connection, values)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else self._for(connection.dialect).read(row)

    def all(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        read = self._for(connection.dialect).read
        cursor = self.run(connection, values)
        try:
            return [read(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


def _default_value(default: Any) -> Callable[[], Any]:
    """A column's Python-side default as a function of nothing: its value, or what its
    function returns (SQLAlchemy's wrapped form takes an execution context, unused here)."""
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        make = default.arg
        return lambda: make(None)
    raise TypeError(f"a driver statement cannot fill the default {default!r}")


def _as_sqlalchemy_error(
    connection: Connection, error: Any, sql: str, parameters: Any
) -> StatementError:
    """The driver's error as SQLAlchemy would raise it (``IntegrityError``,
    ``OperationalError``...), which is what the rest of the code catches; a connection the
    server has dropped is invalidated, so the pool does not hand it out again."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(error)
    wrapped: StatementError = DBAPIError.instance(
        sql,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
    return wrapped


def _driver_cursor(connection: Connection) -> Any:
    # The driver's connection, or on asyncio its adapter that awaits each call.
    return connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: Sequence[str] | None
    processors: Mapping[str, Callable[[Any], Any]]
    fixed: Mapping[str, Any]
    defaults: Mapping[str, Callable[[], Any]]
    readers: tuple[Callable[[Any], Any] | None, ...] | None

    def parameters(self, values: Mapping[str, Any]) -> Any:
        converted = dict(self.fixed)
        for name, value in values.items():
            processor = self.processors.get(name)
            converted[name] = value if processor is None else processor(value)
        for name, default in self.defaults.items():
            if name not in values:
                processor = self.processors.get(name)
                value = default()
                converted[name] = value if processor is None else processor(value)
        if self.positions is not None:
            return tuple(converted[name] for name in self.positions)
        return converted

    def read(self, row: Sequence[Any]) -> tuple[Any, ...]:
        if self.readers is None:
            return tuple(row)
        return tuple(
            value if reader is None else reader(value)
            for value, reader in zip(row, self.readers, strict=True)
        )
