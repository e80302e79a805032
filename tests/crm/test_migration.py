"""Migration 0012 moves the interim exclusive-servicer mapping into the CRM (a contact per
customer, bound on the account's connection) before dropping it; routing then reads the same."""

from __future__ import annotations

import json
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
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_the_interim_mapping_becomes_bound_contacts(empty_url: str) -> None:
    url = empty_url
    upgrade(url, "0011")
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            connection = add_connection(session, NOW)
            for kfid in ("wkA", "wkB"):
                session.add(
                    KfAccount(
                        connection_id=connection.id,
                        open_kfid=kfid,
                        name=kfid,
                        connected_at=NOW,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
            session.flush()
            session.execute(
                text(
                    "INSERT INTO exclusive_servicers"
                    " (account_id, external_userid, servicer_userid, updated_at) VALUES"
                    " (1, 'wmA', 'bob', '2026-11-25 02:00:00'),"
                    " (2, 'wmA', 'carol', '2026-11-25 02:00:00'),"
                    " (2, 'wmB', 'alice', '2026-11-25 02:00:00')"
                )
            )
        upgrade(url)
        with engine.connect() as conn:
            moved = conn.execute(
                text(
                    "SELECT w.connection_id, w.external_userid, c.name, c.exclusive_userid, b.action, b.by"
                    " FROM wechat_customers w JOIN crm_contacts c ON c.id = w.contact_id"
                    " JOIN crm_bindings b ON b.wechat_customer_id = w.id ORDER BY w.id"
                )
            ).all()
            tags = conn.execute(text("SELECT tags, custom_fields FROM crm_contacts")).all()
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    # One corp sees one wmA: the first mapping of it is kept.
    assert [tuple(row) for row in moved] == [
        (1, "wmA", "wmA", "bob", "bind", "migration"),
        (1, "wmB", "wmB", "alice", "bind", "migration"),
    ]
    assert "exclusive_servicers" not in tables and "crm_contacts" in tables
    # Valid JSON on both (SQLite hands raw SQL's JSON back as text).
    assert [tuple(json.loads(v) if isinstance(v, str) else v for v in row) for row in tags] == [([], {})] * 2


def test_downgrade_brings_back_an_empty_interim_mapping(empty_url: str) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "0011")
    engine = create_engine(sync_url(empty_url))
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    assert "exclusive_servicers" in tables and not {t for t in tables if t.startswith("crm_")}
    assert "wechat_customers" not in tables
