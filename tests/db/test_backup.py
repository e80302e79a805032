"""`kefu db backup`: a consistent, owner-only copy of a SQLite database; PostgreSQL is pointed to
pg_dump; an existing file is never overwritten."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from pathlib import Path


def kefu(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {"KEFU_ENV": "development", "KEFU_DATABASE_URL": db, "PATH": ""}
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
