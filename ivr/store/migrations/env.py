"""Alembic environment: runs migrations through the blocking driver of the configured database."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from ivr.store.db import is_sqlite, sync_url
from ivr.store.models import Base

config = context.config
database_url = (
    config.attributes.get("database_url")
    or config.get_main_option("sqlalchemy.url")
    or os.environ.get("IVR_DATABASE_URL", "sqlite:///ivr.db")
)
url = sync_url(database_url)


def run_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=is_sqlite(url),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations()
