"""Migration 0009 moves the interim exclusive-servicer mapping into the CRM (a contact per
customer, bound on the account's connection) before dropping it; routing then reads the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from kefu.accounts.models import Connection, KfAccount
from kefu.db.migrate import upgrade

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_the_interim_mapping_becomes_bound_contacts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0008")
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            connection = Connection(
                name="qinghe",
                corp_id="ww1",
                secret_enc="x",
                callback_token_enc="x",
                aes_key_enc="x",
                bootstrap="skip",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(connection)
            session.flush()
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
            tables = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name = 'exclusive_servicers'")
            ).all()
    finally:
        engine.dispose()
    # One corp sees one wmA: the first mapping of it is kept.
    assert [tuple(row) for row in moved] == [
        (1, "wmA", "wmA", "bob", "bind", "migration"),
        (1, "wmB", "wmB", "alice", "bind", "migration"),
    ]
    assert tables == []
