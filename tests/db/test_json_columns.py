"""JSON columns: written compact with Chinese as UTF-8 (orjson, a fifth of json.dumps' CPU on the
hot path), and rows that `json.dumps` wrote before read back the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from kefu.accounts.models import GlobalSetting
from kefu.db import Database

pytestmark = pytest.mark.db

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _stored_text(session: Session, key: str) -> str:
    return str(
        session.execute(
            text("SELECT CAST(data AS TEXT) FROM global_settings WHERE key = :k"), {"k": key}
        ).scalar_one()
    )


async def test_a_json_column_is_written_as_utf8_and_read_back_whole(db: Database) -> None:
    value = {"welcome": "您好，欢迎咨询青禾家电", 3: [1.5, None, True], "nested": {"键": "值"}}

    def write(session: Session) -> str:
        session.add(GlobalSetting(key="t-json", data=value, updated_at=NOW))
        session.flush()
        return _stored_text(session, "t-json")

    stored = await db.run_write(write)
    assert "您好，欢迎咨询青禾家电" in stored  # not six-byte \uXXXX escapes per character
    assert ", " not in stored.replace("您好，", "")  # compact: no separator spaces

    def read(session: Session) -> dict[str, object]:
        row = session.get(GlobalSetting, "t-json")
        assert row is not None
        return row.data

    # Keys become strings, as json.dumps made them.
    assert await db.run_read(read) == {
        "welcome": value["welcome"],
        "3": [1.5, None, True],
        "nested": {"键": "值"},
    }


async def test_rows_json_dumps_wrote_read_the_same(db: Database) -> None:
    before = json.dumps({"welcome": "您好", "hours": [9, 18]})  # escaped, with spaces
    assert "\\u60a8" in before

    def write(session: Session) -> None:
        session.execute(
            text("INSERT INTO global_settings (key, data, version, updated_at) VALUES ('t-old', :d, 1, :at)"),
            {"d": before, "at": NOW.replace(tzinfo=None)},
        )

    await db.run_write(write)

    def read(session: Session) -> dict[str, object]:
        row = session.get(GlobalSetting, "t-old")
        assert row is not None
        return row.data

    assert await db.run_read(read) == {"welcome": "您好", "hours": [9, 18]}
