"""A database at an old schema revision, for the migration tests: an empty one to upgrade to
the revision wanted, the rows those revisions already had, and a downgrade."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kefu.accounts.models import Connection
from kefu.db.engine import sync_url
from kefu.db.migrate import alembic_config
from tests.conftest import PG_URL


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database without a schema: a SQLite file, or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"kefu_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_connection(session: Session, now: datetime) -> Connection:
    """A connection row as every revision since the first has it (flushed: it has its id)."""
    connection = Connection(
        name="qinghe",
        corp_id="ww1",
        secret_enc="x",
        callback_token_enc="x",
        aes_key_enc="x",
        bootstrap="skip",
        created_at=now,
        updated_at=now,
    )
    session.add(connection)
    session.flush()
    return connection


def downgrade(url: str, revision: str) -> None:
    """Alembic's downgrade to `revision`, in one transaction."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()
