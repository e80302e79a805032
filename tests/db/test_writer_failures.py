"""SQLite's writer thread keeps its connections for the process's life: a unit that fails in any
way, even at COMMIT, must leave nothing open behind it, and a database locked by another process
must surface as SQLAlchemy's error (the callback recorder and the job heartbeat catch that)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import kefu.db.engine
from kefu.db import Database

pytestmark = pytest.mark.db


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> Database:
    path = tmp_path / "writer.db"
    with sqlite3.connect(path) as setup:
        setup.executescript(
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
            "CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id));"
            "CREATE TABLE note(x INTEGER);"
        )
    db = Database(f"sqlite:///{path}")
    yield db
    await db.dispose()


def orphan_found_at_commit(session: Session) -> None:
    # Deferred: the foreign key fails at COMMIT, and SQLite then keeps the transaction open.
    session.execute(text("PRAGMA defer_foreign_keys=ON"))
    session.execute(text("INSERT INTO child(id, parent) VALUES (1, 42)"))


def add_note(session: Session, x: int) -> int:
    session.execute(text("INSERT INTO note(x) VALUES (:x)"), {"x": x})
    return x


async def test_a_commit_that_fails_leaves_no_transaction_open(sqlite_db: Database, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"):
        await sqlite_db.run_write(orphan_found_at_commit)
    assert await sqlite_db.run_write(add_note, 1) == 1  # the writer goes on
    other = sqlite3.connect(tmp_path / "writer.db", timeout=1, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # and holds no lock against another process
    other.execute("INSERT INTO note(x) VALUES (2)")
    other.execute("COMMIT")
    other.close()
    assert await sqlite_db.run_read(lambda s: sorted(s.scalars(text("SELECT x FROM note")))) == [1, 2]


async def test_a_database_locked_by_another_process_is_sqlalchemys_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kefu.db.engine, "SQLITE_BUSY_TIMEOUT_MS", 200)  # read when a connection opens
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE note(x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            await db.run_write(add_note, 1)
        with pytest.raises(OperationalError, match="locked"):
            async with db.write() as session:
                await session.execute(text("INSERT INTO note(x) VALUES (1)"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await db.run_write(add_note, 3) == 3  # free again: the writer recovers
    await db.dispose()


async def test_after_dispose_units_run_on_a_new_thread(sqlite_db: Database) -> None:
    assert await sqlite_db.run_write(add_note, 1) == 1
    await sqlite_db.dispose()
    assert await sqlite_db.run_write(add_note, 2) == 2
    assert await sqlite_db.run_read(lambda s: sorted(s.scalars(text("SELECT x FROM note")))) == [1, 2]
