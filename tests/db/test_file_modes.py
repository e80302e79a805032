"""The SQLite file holds every customer message: it, its -wal and -shm files are the owner's
only (0600), and a folder Kefu creates for it is 0700 — whatever the umask says."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from kefu.db import Database
from kefu.db.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_folder_are_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: files 0644, folders 0755
    try:
        db_path = tmp_path / "data" / "kefu.db"
        url = f"sqlite:///{db_path}"
        upgrade(url)
        database = Database(url)
        try:
            async with database.write() as session:
                await session.execute(text("CREATE TABLE probe (x INTEGER)"))
                await session.execute(text("INSERT INTO probe VALUES (1)"))
            # WAL mode: the -wal and -shm files exist while a connection is open.
            siblings = [db_path.with_name("kefu.db-wal"), db_path.with_name("kefu.db-shm")]
            assert all(p.exists() for p in siblings)
            assert [mode(p) for p in (db_path, *siblings)] == [0o600, 0o600, 0o600]
        finally:
            await database.dispose()
        assert mode(db_path.parent) == 0o700
    finally:
        os.umask(previous)


def test_an_existing_database_readable_by_others_is_tightened_and_its_folder_left_alone(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "kefu.db"
    url = f"sqlite:///{db_path}"
    upgrade(url)
    db_path.chmod(0o644)
    tmp_path.chmod(0o755)
    upgrade(url)  # what `kefu serve` runs first on SQLite
    assert mode(db_path) == 0o600
    assert mode(tmp_path) == 0o755  # the admin's folder (e.g. the working directory)
