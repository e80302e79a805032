"""Alembic environment: runs on a sync connection handed in by kefu.db.migrate.

The models' metadata is handed in too (`config.attributes["target_metadata"]`, by `kefu db
revision`): kefu.db sits below the features whose tables it would otherwise have to import.
Upgrades need no metadata; autogenerate without it stops with Alembic's own error."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from kefu.db.engine import sync_url

config = context.config
target_metadata = config.attributes.get("target_metadata")


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
