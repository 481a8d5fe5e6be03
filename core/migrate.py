"""Run Alembic programmatically (the CLI's `entpage migrate` and the test suite)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str, *, configure_logging: bool = True) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = configure_logging
    return config


def upgrade(database_url: str, revision: str = "head", *, quiet: bool = False) -> None:
    command.upgrade(alembic_config(database_url, configure_logging=not quiet), revision)


def downgrade(database_url: str, revision: str, *, quiet: bool = False) -> None:
    command.downgrade(alembic_config(database_url, configure_logging=not quiet), revision)
