"""`kefu db backup`: a consistent, owner-only copy of a SQLite database; PostgreSQL is pointed to
pg_dump; an existing file is never overwritten."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import kefu as kefu_package

SOURCES = str(Path(kefu_package.__file__).resolve().parents[1])  # the kefu under test


def kefu(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {"KEFU_ENV": "development", "KEFU_DATABASE_URL": db, "PATH": "", "PYTHONPATH": SOURCES}
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_sqlite_backup_is_a_whole_owner_only_copy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    assert kefu("db", "upgrade", db=url).returncode == 0
    copy = tmp_path / "backup.db"
    done = kefu("db", "backup", str(copy), db=url)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with sqlite3.connect(copy) as backup:
        tables = {row[0] for row in backup.execute("select name from sqlite_master where type='table'")}
        version = backup.execute("select version_num from alembic_version").fetchone()
    assert {"messages", "conversations", "jobs"} <= tables and version is not None

    again = kefu("db", "backup", str(copy), db=url)
    assert again.returncode == 2 and "exists" in again.stderr


def test_postgresql_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    refused = kefu("db", "backup", str(tmp_path / "x"), db="postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert refused.returncode == 2 and "pg_dump" in refused.stderr
    assert not (tmp_path / "x").exists()


def test_a_backup_that_cannot_be_made_says_why_and_leaves_no_file(tmp_path: Path) -> None:
    """Tracebacks before: a missing database (leaving an empty target that then "exists"), a
    target in a folder that does not exist."""
    missing = kefu("db", "backup", str(tmp_path / "copy.db"), db=f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert (
        missing.stderr
        == f"error: there is no database at {tmp_path / 'none.db'} (KEFU_DATABASE_URL): nothing to back up\n"
    )
    assert not (tmp_path / "copy.db").exists()

    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    assert kefu("db", "upgrade", db=url).returncode == 0
    nowhere = kefu("db", "backup", str(tmp_path / "no" / "copy.db"), db=url)
    assert nowhere.returncode == 2
    assert nowhere.stderr == f"error: cannot write {tmp_path / 'no' / 'copy.db'}: No such file or directory\n"

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 100)
    unreadable = kefu("db", "backup", str(tmp_path / "junk-copy.db"), db=f"sqlite:///{junk}")
    assert unreadable.returncode == 2
    assert unreadable.stderr == f"error: cannot back up {junk}: file is not a database\n"
    assert not (tmp_path / "junk-copy.db").exists()
