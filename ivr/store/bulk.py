"""Many new rows at once, the fastest way each database takes them: PostgreSQL by COPY,
with ids drawn from the table's sequence beforehand; SQLite by one executemany.

An insert that returned its ids in the rows' order would go to SQLite one row at a time,
and on PostgreSQL its long multi-row statements are parsed again by the driver for every
batch (too long for psycopg's statement cache); a read-back of the ids by key inside a
long import would be planned on statistics that know nothing of the rows just added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table, func, insert, select
from sqlalchemy.engine import Connection


def _copyable(connection: Connection) -> Any:
    """The psycopg connection under ``connection``, or None (SQLite, or another driver)."""
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        return None
    return connection.connection.driver_connection


def _copy(raw: Any, table: Table, columns: list[str], values: Sequence[Sequence[Any]]) -> None:
    from psycopg import sql  # the PostgreSQL driver, present wherever PostgreSQL is used

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in values:
            copy.write_row(row)


def insert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, every column without a server default)."""
    if not rows:
        return
    raw = _copyable(connection)
    if raw is None:
        connection.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    _copy(raw, table, columns, [[row[name] for name in columns] for row in rows])


def insert_with_ids(
    connection: Connection, key: Column[str], organisation_id: int, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert ``rows`` (one organisation's, unique by ``key``); their ids by key."""
    table = key.table
    raw = _copyable(connection)
    if raw is not None:
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = connection.scalars(
            select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
        ).all()
        columns = ["id", *rows[0]]
        _copy(
            raw, table, columns, [[id_, *row.values()] for id_, row in zip(ids, rows, strict=True)]
        )
        return {row[key.name]: int(id_) for id_, row in zip(ids, rows, strict=True)}
    connection.execute(insert(table), list(rows))
    found = connection.execute(
        select(key, table.c.id).where(
            table.c.organisation_id == organisation_id,
            key.in_([row[key.name] for row in rows]),
        )
    )
    return dict(found.all())
