"""Shared fixtures: a migrated database per test (SQLite) or per worker (PostgreSQL), a clock.

The schema is always built by running the migrations, once per test worker, into
a template that tests copy (SQLite) or truncate back to (PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import kefu.registry  # noqa: F401 — every task registered, as in any Kefu process
from kefu.clock import Clock
from kefu.db import Database
from kefu.db.migrate import upgrade
from kefu.runtime import Runtime
from kefu.secretbox import SecretBox
from kefu.settings import Settings

pytest_plugins = ["tests.simulator_fixtures"]

# Tests never talk to the real WeCom: anything that forgets to point at the
# simulator hits a closed loopback port. Non-loopback sockets are blocked by
# pytest-socket (see addopts in pyproject.toml).
os.environ.setdefault("KEFU_WECOM_API_BASE", "http://127.0.0.1:9")
os.environ.setdefault("KEFU_ENV", "development")

PG_URL = os.environ.get("KEFU_TEST_DATABASE_URL")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite: path of a migrated template file. PostgreSQL: URL of this worker's database."""
    if not PG_URL:
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)
        return
    name = f"kefu_t_{uuid.uuid4().hex[:8]}_{_worker()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> str:
    """A migrated, empty database for this test."""
    if not PG_URL:
        target = tmp_path / "kefu.db"
        shutil.copy(_template, target)
        return f"sqlite:///{target}"
    engine = create_engine(_template)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname='public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return _template


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def clock() -> Clock:
    """A frozen clock at a fixed working-day morning in Shanghai; tests move it explicitly."""
    c = Clock(start=datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    c.freeze()
    return c


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env="development",
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        wecom_api_base=os.environ["KEFU_WECOM_API_BASE"],
        public_url="http://kefu.test",
    )


@pytest.fixture
async def rt(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[Runtime]:
    """A Runtime on the test database and frozen clock (point settings.wecom_api_base at a simulator)."""
    runtime = Runtime(settings=settings, db=db, clock=clock, secrets=SecretBox(settings.secret_key_bytes()))
    try:
        yield runtime
    finally:
        await runtime.http.aclose()
        await runtime.wecom_http.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that gets a database is a `db` test, so CI's PostgreSQL pass runs it
    without relying on each file remembering the marker."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
