"""The webhooks' fast path: statements sent straight to the database driver.

SQLAlchemy's execution path costs several times what SQLite takes to run a small statement,
so the few statements every webhook runs skip it (``ivr.store`` says which may, and why).
Each is written once as a Core statement (with only ``bindparam`` values), or as a function
of the dialect where the databases need different SQL, compiled once per database kind, and
run on the driver's cursor inside the connection's transaction. Values go through their
column types' own bind processors, and rows read with ``first``/``all`` through the result
processors (dates and moments on SQLite), so what is stored and read back is exactly what
SQLAlchemy itself would store and read. ``tests/integration/test_driver_statements.py``
runs every one of them both ways, on both databases, and compares.

This module uses SQLAlchemy's compiler internals (``SQLCompiler.bind_names``,
``positiontup``, ``insert_prefetch``, the bind's ``effective_value``) and the driver's own
cursor; nothing else in the line does. ``pyproject.toml`` bounds SQLAlchemy's version for
it. A connection whose engine has the execution option ``ivr_driver_statements=False``
(``IVR_DRIVER_STATEMENTS=false``) runs the same statements through SQLAlchemy's own
``Connection.execute`` instead, for diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, Dialect, Executable
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler

OPTION = "ivr_driver_statements"
STATEMENTS: dict[str, DriverStatement] = {}
"""Every driver statement, by name: for the test that runs each both ways."""


class DriverStatement:
    """A statement that every webhook runs, sent straight to the database driver."""

    def __init__(self, name: str, statement: Executable | Callable[[Dialect], Executable]) -> None:
        if name in STATEMENTS:
            raise ValueError(f"a driver statement named {name!r} exists already")
        self.name = name
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        STATEMENTS[name] = self

    def statement_for(self, dialect: Dialect) -> Executable:
        if isinstance(self.statement, Executable):
            return self.statement
        return self.statement(dialect)

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name + dialect.driver)
        if compiled is None:
            compiled = _compile(self.statement_for(dialect), dialect)
            self._compiled[dialect.name + dialect.driver] = compiled
        return compiled

    def run(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Execute with ``values`` (by bind name); the driver's cursor, to fetch from (its
        rows as the driver gives them: use ``first`` or ``all`` for typed values), or
        SQLAlchemy's result where the fast path is off."""
        if not _fast(connection):
            return connection.execute(self.statement_for(connection.dialect), dict(values))
        compiled = self._for(connection.dialect)
        cursor = _driver_cursor(connection)
        parameters = compiled.parameters(values)
        try:
            cursor.execute(compiled.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(connection, error, compiled.sql, parameters) from error
        return cursor

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row of values (``executemany``)."""
        if not _fast(connection):
            connection.execute(self.statement_for(connection.dialect), [dict(r) for r in rows])
            return
        compiled = self._for(connection.dialect)
        cursor = _driver_cursor(connection)
        parameters = [compiled.parameters(values) for values in rows]
        try:
            cursor.executemany(compiled.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(connection, error, compiled.sql, parameters) from error

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, if any. The statement is finished with (closed) either way:
        SQLite cannot commit while an ``INSERT ... RETURNING`` is still being read."""
        if not _fast(connection):
            result = self.run(connection, values)
            row = result.first()
            return None if row is None else tuple(row)
        cursor = self.run(connection, values)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else self._for(connection.dialect).read(row)

    def all(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if not _fast(connection):
            return [tuple(row) for row in self.run(connection, values).all()]
        read = self._for(connection.dialect).read
        cursor = self.run(connection, values)
        try:
            return [read(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


def _fast(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(OPTION, True))


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    assert isinstance(statement, ClauseElement), "a SQL statement"
    sql = statement.compile(dialect=dialect)
    assert isinstance(sql, SQLCompiler), "a SQL statement"
    processors: dict[str, Callable[[Any], Any]] = {}
    # Values written into the statement itself (a LIMIT 1, say) are binds too: converted
    # here, once.
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
    return _Compiled(
        str(sql), sql.positiontup, processors, fixed, defaults, readers if any(readers) else None
    )


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


def as_sqlalchemy_error(
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
