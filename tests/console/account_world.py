"""The account the 在线客服账号 pages are tested on: the simulator's corp with one kf account
whose settings are STORED (by `seed`, from the CLI), and what the tests read back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kefu.accounts import kf_accounts
from kefu.accounts.models import KfAccount
from kefu.accounts.settings import get_account, save_account_settings, settings_json, stored_settings
from kefu.audit.models import AuditEvent
from kefu.runtime import Runtime
from tests.accounts.kf_fixtures import KfWorld

STORED = {
    "reception": {
        "mode": "human_only",
        "keyword_transfer": {"enabled": True, "keywords": ["找人工", "客服"]},
    },
    "hours": {"weekly": {"mon": ["08:30-12:00", "13:00-17:30"], "sat": ["10:00-16:00"]}},
    "queue": {"default_max_sessions": 4, "max_length": 7},
    "routing": {"rules": [{"rule": "last", "when_unavailable": "wait"}, {"rule": "idle"}]},
    "messages": {
        "welcome": {"mode": "fixed", "text": "您好，欢迎咨询青禾家电"},
        "paused": {"mode": "fixed", "text": "暂停服务中"},
    },
}


@pytest.fixture
async def account(rt: Runtime, kf: KfWorld) -> KfAccount:
    async with rt.db.write() as session:
        row = (await kf_accounts.list_all_accounts(session, kf.connection.id))[0]
        await save_account_settings(session, row, STORED, changed_by="seed", source="cli", now=rt.clock.now())
    return row


async def events(rt: Runtime, action: str) -> list[AuditEvent]:
    async with rt.db.read() as session:
        return list((await session.scalars(select(AuditEvent).where(AuditEvent.action == action))).all())


async def stored(rt: Runtime, account_id: int) -> dict[str, Any]:
    async with rt.db.read() as session:
        return settings_json(stored_settings(await get_account(session, account_id)))
