"""Models and migrations agree, on both databases, and migrations run both ways."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ivr.store.db import is_sqlite
from ivr.store.migrate import alembic_config
from ivr.store.models import Base


def test_the_migrated_schema_matches_the_models(database_url: str, db: sa.Engine) -> None:
    with db.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": is_sqlite(database_url)}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_and_up_again(database_url: str, db: sa.Engine) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    assert set(sa.inspect(db).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert set(sa.inspect(db).get_table_names()) >= {
        table.name for table in Base.metadata.sorted_tables
    }
