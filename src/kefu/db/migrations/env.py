"""Alembic environment: runs on a sync connection handed in by kefu.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from kefu.db.engine import sync_url
from kefu.db.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = sync_url(config.get_main_option("sqlalchemy.url") or "")
        with create_engine(url).begin() as conn:
            _run_with(conn)
    else:
        _run_with(connection)


def _run_with(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
