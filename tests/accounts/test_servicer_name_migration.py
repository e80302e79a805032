"""Migration 0016 gives servicers a nullable `name`: rows listed before it keep everything and
have no name (the console shows their userid, as before); a downgrade drops the column again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.db.engine import sync_url
from kefu.db.migrate import upgrade
from tests.old_schema import add_connection, downgrade
from tests.old_schema import empty_url as empty_url  # the fixture

pytestmark = pytest.mark.db
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _servicer_columns(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns("servicers")}
    finally:
        engine.dispose()


def test_servicers_listed_before_get_no_name_and_a_downgrade_drops_it(empty_url: str) -> None:
    upgrade(empty_url, "0015")
    assert "name" not in _servicer_columns(empty_url)
    engine = create_engine(sync_url(empty_url))
    try:
        with Session(engine) as session, session.begin():
            connection = add_connection(session, NOW)
            account = KfAccount(
                connection_id=connection.id,
                open_kfid="wkA",
                name="售后",
                connected_at=NOW,
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(account)
            session.flush()
            session.execute(
                text(
                    "INSERT INTO servicers (account_id, userid, position, max_sessions, status, stop_type,"
                    " in_wecom, updated_at) VALUES (:account, 'lisi', 0, 3, 0, 0, :yes, :now)"
                ),
                {"account": account.id, "yes": True, "now": NOW.replace(tzinfo=None)},
            )
        upgrade(empty_url)
        with engine.connect() as conn:
            listed = conn.execute(text("SELECT userid, max_sessions, in_wecom, name FROM servicers")).all()
            conn.execute(text("UPDATE servicers SET name = '李四'"))
            conn.commit()
            named = conn.execute(text("SELECT name FROM servicers")).scalar_one()
        assert [tuple(row) for row in listed] == [("lisi", 3, True, None)]
        assert named == "李四"
        downgrade(empty_url, "0015")
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT userid, max_sessions FROM servicers")).all()
    finally:
        engine.dispose()
    assert "name" not in _servicer_columns(empty_url)
    assert [tuple(row) for row in kept] == [("lisi", 3)]
