"""Alembic, driven from code so ``ivr db upgrade`` works wherever the package is installed."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

MIGRATIONS = "ivr.store:migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
