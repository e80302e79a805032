"""Account settings and the ai: section: validated with clear errors, versioned only on change,
read by the reception core through load_account_settings (kefu.reception.service)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.accounts.models import GlobalSetting, KfAccount
from kefu.accounts.settings import (
    SettingsInvalid,
    account_scope,
    list_versions,
    load_ai_settings,
    save_account_settings,
    save_ai_settings,
    stored_settings,
)
from kefu.ai.settings import AISettings
from kefu.reception.core.settings import AccountSettings
from kefu.reception.service import load_account_settings
from kefu.runtime import Runtime
from tests.factories import make_account, make_connection

pytestmark = pytest.mark.db

CHANGE = {
    "reception": {"mode": "human_only"},
    "hours": {
        "weekly": {"mon": ["08:00-12:00"], "sat": ["10:00-24:00"]},
        "off_hours_message": {"mode": "none"},
    },
    "queue": {"default_max_sessions": 4, "pool_notice": {"mode": "fixed", "text": "前面还有 {position} 位"}},
}


@pytest.fixture
async def account(rt: Runtime) -> KfAccount:
    connection, _ = await make_connection(rt)
    return await make_account(rt, connection)


async def _save(rt: Runtime, account: KfAccount, data: dict, by: str = "alice") -> int | None:
    async with rt.db.write() as s:
        version = await save_account_settings(
            s, account, data, changed_by=by, source="console", now=rt.clock.now()
        )
    return version.version if version else None


async def test_a_change_is_one_version_and_the_same_value_none(rt: Runtime, account: KfAccount) -> None:
    assert await _save(rt, account, {}) is None  # the defaults are already in effect

    assert await _save(rt, account, CHANGE) == 1
    rt.clock.advance(60)
    assert await _save(rt, account, CHANGE, by="bob") is None
    assert await _save(rt, account, {**CHANGE, "timezone": "Asia/Hong_Kong"}, by="bob") == 2

    async with rt.db.read() as s:
        row = await s.get(KfAccount, account.id)
        versions = await list_versions(s, account_scope(account.id))
        settings = await load_account_settings(s, account.id)
    assert row is not None and row.settings_version == 2
    assert [(v.version, v.changed_by, v.source) for v in versions] == [
        (2, "bob", "console"),
        (1, "alice", "console"),
    ]
    assert versions[0].data == row.settings and versions[0].data["timezone"] == "Asia/Hong_Kong"
    assert versions[1].data["queue"]["default_max_sessions"] == 4
    assert isinstance(settings, AccountSettings)
    assert settings.reception.mode == "human_only" and settings.queue.default_max_sessions == 4
    assert [str(p) for p in settings.hours.weekly.sat] == ["10:00-24:00"] and settings.hours.weekly.tue == []
    assert settings.enabled and settings.not_sure_text == AISettings().not_sure_text
    assert stored_settings(row).hours.off_hours_message.mode == "none"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"hours": {"weekly": {"mon": ["10:00-09:00"]}}},
            "hours.weekly.mon[0]: 10:00-09:00: the end is before the start; split it at midnight: "
            "10:00-24:00 on this day and 00:00-09:00 on the next",
        ),
        (
            {"reception": {"mode": "ai_frist"}},
            "reception.mode: Input should be 'ai_first', 'ai_only' or 'human_only'",
        ),
        ({"messages": {"welcome": {"mode": "fixed"}}}, "messages.welcome: mode fixed needs a text"),
        (
            {"queue": {"pool_notice": {"mode": "fixed", "text": "{n} 位"}}},
            "the only placeholder allowed is {position}",
        ),
        (
            {"queue": {"taken_notice": {"mode": "fixed", "text": "第 {position} 号客服"}}},
            "the only placeholder allowed is {servicer}, not {position}",
        ),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a known time zone"),
        (
            {"hours": {"closed_dates": ["2026-12-31"], "extra_working_dates": ["2026-12-31"]}},
            "hours: 2026-12-31 is both a closed date and an extra working date",
        ),
        ({"reception": {"mood": "x"}}, "reception.mood: unknown key 'mood'"),
    ],
)
async def test_bad_settings_are_refused_in_words(
    rt: Runtime, account: KfAccount, data: dict, problem: str
) -> None:
    with pytest.raises(SettingsInvalid) as refused:
        await _save(rt, account, data)
    lines = refused.value.lines()
    assert any(p.startswith(problem) or problem in p for p in lines), lines
    assert refused.value.status_code == 422
    async with rt.db.read() as s:
        assert await list_versions(s, account_scope(account.id)) == []


async def test_ai_modes_need_an_ai_and_the_ai_section_is_versioned_with_its_key_sealed(
    rt: Runtime, account: KfAccount
) -> None:
    openai = {"base_url": "http://127.0.0.1:8001/v1", "api_key": "sk-secret", "model": "qwen-plus"}
    ai = AISettings.model_validate({"provider": "openai", "openai": openai, "threshold": 0.5})
    async with rt.db.write() as s:
        first = await save_ai_settings(
            s, ai, secrets=rt.secrets, changed_by="a", source="config", now=rt.clock.now()
        )
        again = await save_ai_settings(
            s, ai, secrets=rt.secrets, changed_by="a", source="config", now=rt.clock.now()
        )
    assert first is not None and first.version == 1 and again is None
    async with rt.db.read() as s:
        row = await s.get(GlobalSetting, "ai")
        assert row is not None and "sk-secret" not in str(row.data) and "sk-secret" not in str(first.data)
        assert (await load_ai_settings(s, rt.secrets)).openai.api_key == "sk-secret"  # type: ignore[union-attr]
        assert (await load_ai_settings(s)).openai.api_key is None  # type: ignore[union-attr]

    none = AISettings(provider="none")
    async with rt.db.write() as s:
        assert await save_ai_settings(
            s, none, secrets=rt.secrets, changed_by="b", source="api", now=rt.clock.now()
        )
    with pytest.raises(SettingsInvalid, match=r"reception\.mode: reception mode ai_only needs an AI service"):
        await _save(rt, account, {"reception": {"mode": "ai_only"}})
    assert await _save(rt, account, {"reception": {"mode": "human_only"}}) == 1
    async with rt.db.read() as s:
        assert [v.version for v in await list_versions(s, "ai")] == [2, 1]
        accounts = (await s.scalars(select(KfAccount))).all()
    assert [a.settings_version for a in accounts] == [1]
