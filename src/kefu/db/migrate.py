"""Schema migrations (Alembic), driven from code so `kefu` needs no alembic.ini.

Alembic is imported inside the functions: importing it logs its plugin set-up at INFO, and
this module is imported before a command has set the log level it was asked for. Its lines
(set-up, "Context impl", "Running upgrade") show at DEBUG only; at INFO Kefu says in one line
what changed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine

from kefu.db.engine import private_sqlite_file, sync_url
from kefu.logs import get_logger

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


@contextlib.contextmanager
def _alembic_logs() -> Iterator[None]:
    """Alembic's own lines at DEBUG only: at the normal level they read like noise on every start."""
    logger = logging.getLogger("alembic")
    previous = logger.level
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    private_sqlite_file(url)
    engine = create_engine(sync_url(url))
    try:
        with _alembic_logs(), engine.begin() as connection:
            from alembic import command
            from alembic.runtime.migration import MigrationContext

            before = MigrationContext.configure(connection).get_current_revision()
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            after = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if after != before:
        log.info("db.upgraded", from_revision=before, to_revision=after)


def pending(url: str) -> bool:
    """True when the database is behind the newest migration."""
    private_sqlite_file(url)
    engine = create_engine(sync_url(url))
    try:
        with _alembic_logs():
            from alembic.runtime.migration import MigrationContext
            from alembic.script import ScriptDirectory

            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        return current != head
    finally:
        engine.dispose()
