"""The AI end to end through the simulator: the not-sure streak offering the transfer button in
AI-first mode (never in AI-only), and the LLM provider answering when configured — against a
fake OpenAI-compatible server on loopback — with the knowledge base taking over on a timeout."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, event, func, select

from kefu.accounts.knowledge_base import put_entries
from kefu.accounts.knowledge_provider import ai_for_account
from kefu.accounts.models import GlobalSetting
from kefu.accounts.settings import AI_KEY, save_ai_settings
from kefu.ai import DEFAULT_NOT_SURE_TEXT, DEFAULT_NOT_SURE_TEXT_NO_BUTTON, KnowledgeEntry
from kefu.ai.llm import OpenAIProvider
from kefu.ai.provider import AnswerContext
from kefu.ai.settings import AISettings
from kefu.db import Database
from kefu.ingest.models import Message
from kefu.reception.core import TRANSFER_CLICK_ID
from kefu.reception.processing import process_message
from kefu.runtime import Runtime
from tests.ai.fake_openai import FakeOpenAI
from tests.ai.fake_openai import fake_openai as fake_openai  # the fixture
from tests.reception.conftest import WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]

RETURNS_ANSWER = "收到商品 7 天内可在订单页申请退货，运费由我们承担。"
NO_BUTTON = {"reception": {"mode": "ai_first", "button_transfer": {"enabled": False}}}


async def test_ai_first_offers_the_button_after_two_not_sure_answers_even_with_the_button_off(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings=NO_BUTTON, kb=True, servicers=["alice"])
    world.says("怎么退货")
    world.says("你们公司的股票代码是多少")
    world.says("火星上能用吗")
    world.says("那月球呢")
    await world.settle()
    answered, first_unsure, second_unsure, third_unsure = world.inbox()
    assert (answered["msgtype"], texts_of(answered)) == ("text", RETURNS_ANSWER)
    assert (first_unsure["msgtype"], texts_of(first_unsure)) == ("text", DEFAULT_NOT_SURE_TEXT_NO_BUTTON)
    for menu in (second_unsure, third_unsure):
        assert menu["msgtype"] == "msgmenu" and menu["body"]["head_content"] == DEFAULT_NOT_SURE_TEXT
        assert [item["click"]["id"] for item in menu["body"]["list"]] == [TRANSFER_CLICK_ID]
    world.clicks(second_unsure["msgid"], TRANSFER_CLICK_ID)
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


async def test_ai_only_never_offers_the_button(make_world: WorldFactory) -> None:
    world = await make_world(settings={"reception": {"mode": "ai_only"}}, kb=True, servicers=["alice"])
    for question in ("你们公司的股票代码是多少", "火星上能用吗", "那月球呢"):
        world.says(question)
    await world.settle()
    assert [m["msgtype"] for m in world.inbox()] == ["text"] * 3


async def test_the_process_job_sees_knowledge_and_ai_changes_saved_by_another_process(
    make_world: WorldFactory, database_url: str
) -> None:
    """The process job reads the knowledge base's freshness key and the `ai:` section in its own
    units: a change committed by another process (its own engine) is answered from at once."""
    world = await make_world(settings=NO_BUTTON, kb=True)
    world.says("怎么退货")
    await world.settle()
    other = Database(database_url)
    try:
        async with other.write() as session:
            entry = KnowledgeEntry(id="returns", question="怎么退货", answer="15 天内可退货。")
            await put_entries(session, world.account.id, [entry], replace=False, now=world.rt.clock.now())
        async with other.write() as session:
            ai = AISettings(not_sure_text="这个我得问问同事。")
            await save_ai_settings(
                session, ai, secrets=world.rt.secrets, changed_by="t", source="api", now=world.rt.clock.now()
            )
    finally:
        await other.dispose()
    world.says("怎么退货")
    world.says("你们公司的股票代码是多少")
    await world.settle()
    assert [texts_of(m) for m in world.inbox()] == [RETURNS_ANSWER, "15 天内可退货。", "这个我得问问同事。"]


async def use_llm(rt: Runtime, fake: FakeOpenAI, *, timeout_s: float = 5) -> None:
    ai = AISettings.model_validate(
        {
            "provider": "openai",
            "openai": {"base_url": fake.url, "api_key": "sk-e2e", "model": "m", "timeout_s": timeout_s},
        }
    )
    async with rt.db.write() as session:
        await save_ai_settings(
            session, ai, secrets=rt.secrets, changed_by="test", source="cli", now=rt.clock.now()
        )


async def test_the_llm_keeps_its_connection_and_a_changed_setting_takes_effect_at_once(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    """Every call goes through the Runtime's client: two answers come on one TCP connection, and
    after the `ai:` section changes (endpoint, key, model, timeout) the next answer uses the new
    values — on the same kept-alive connection, since the host is the same."""
    await use_llm(rt, fake_openai)
    world = await make_world(kb=True, servicers=["alice"])
    context = AnswerContext(account_id=world.account.id)
    llm = await ai_for_account(rt, world.account.id)
    await llm.answer("怎么退货", context)
    await llm.answer("怎么退货", context)
    assert (len(fake_openai.requests), fake_openai.connections()) == (2, 1)
    changed = AISettings.model_validate(
        {
            "provider": "openai",
            "openai": {
                "base_url": f"{fake_openai.url}/v2",
                "api_key": "sk-new",
                "model": "m2",
                "timeout_s": 3,
            },
        }
    )
    async with rt.db.write() as session:
        await save_ai_settings(
            session, changed, secrets=rt.secrets, changed_by="test", source="cli", now=rt.clock.now()
        )
    llm = await ai_for_account(rt, world.account.id)
    assert isinstance(llm, OpenAIProvider) and llm.deadline_s == 3
    await llm.answer("怎么退货", context)
    last = fake_openai.requests[-1]
    assert (last["path"], last["headers"]["Authorization"], last["body"]["model"]) == (
        "/v1/v2/chat/completions",
        "Bearer sk-new",
        "m2",
    )
    assert fake_openai.connections() == 1


async def test_the_llm_answers_with_the_knowledge_base_as_context(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    await use_llm(rt, fake_openai)
    world = await make_world(kb=True, servicers=["alice"])
    fake_openai.reply(
        {"not_sure": False, "answer": "7天内在订单页申请退货就行，运费我们出。", "entry_ids": ["returns"]}
    )
    world.says("买的东西不想要了 我手机13812345678")
    await world.settle()
    [answer] = world.inbox()
    assert answer["msgtype"] == "msgmenu"
    assert answer["body"]["head_content"] == "7天内在订单页申请退货就行，运费我们出。"
    sent = fake_openai.prompt()
    assert RETURNS_ANSWER in sent and "13812345678" not in sent and "[电话号码]" in sent
    assert fake_openai.requests[0]["headers"]["Authorization"] == "Bearer sk-e2e"


async def test_the_knowledge_base_answers_when_the_llm_times_out(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    await use_llm(rt, fake_openai, timeout_s=0.5)
    world = await make_world(kb=True, servicers=["alice"])
    fake_openai.reply({"not_sure": False, "answer": "来得太晚", "entry_ids": []}, delay_s=3)
    world.says("怎么退货")
    await world.settle()
    [answer] = world.inbox()
    assert answer["body"]["head_content"] == RETURNS_ANSWER
    assert len(fake_openai.requests) == 1


async def test_the_llm_not_sure_field_counts_toward_the_streak(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    await use_llm(rt, fake_openai)
    world = await make_world(settings=NO_BUTTON, kb=True, servicers=["alice"])
    fake_openai.reply({"not_sure": True})
    fake_openai.reply({"not_sure": True})
    world.says("你们老板是谁")
    world.says("那老板娘呢")
    await world.settle()
    first, second = world.inbox()
    assert first["msgtype"] == "text" and second["msgtype"] == "msgmenu"


async def test_the_llm_sees_the_recent_turns_masked(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    await use_llm(rt, fake_openai)
    world = await make_world(kb=True, servicers=["alice"])
    fake_openai.reply({"not_sure": False, "answer": "整机保修一年。", "entry_ids": ["warranty"]})
    world.says("冰箱保修多久 我电话13812345678")
    await world.settle()
    fake_openai.reply({"not_sure": False, "answer": "主要部件三年。", "entry_ids": ["warranty"]})
    world.says("那压缩机呢")
    await world.settle()
    second = fake_openai.prompt(1)
    assert "最近的对话" in second
    assert "customer: 冰箱保修多久 我电话[电话号码]" in second and "ai: 整机保修一年。" in second
    assert "13812345678" not in second
    assert "最近的对话" not in fake_openai.prompt(0)  # the first turn had none


async def units_of(world_rt: Runtime, message_id: int) -> list[str]:
    """The transactions (`read` / `write`) that processing one stored message opens, seen by an
    event listener on every engine (what the job would run, outside a job)."""
    opened: list[str] = []

    def on_begin(conn: Connection) -> None:
        opened.append("write" if conn.get_execution_options().get("kefu_write") else "read")

    event.listen(Engine, "begin", on_begin)
    try:
        await process_message(world_rt, message_id)
    finally:
        event.remove(Engine, "begin", on_begin)
    return opened


async def newest_message_id(rt: Runtime) -> int:
    async with rt.db.read() as session:
        newest = await session.scalar(select(func.max(Message.id)))
    assert newest is not None
    return int(newest)


async def test_with_the_knowledge_base_built_a_message_is_answered_and_decided_in_one_write_unit(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings=NO_BUTTON, kb=True)
    world.says("怎么退货")
    await world.settle()  # the first answer builds the account's knowledge base in this process
    world.says("怎么退货")
    await world.pull()
    assert await units_of(world.rt, await newest_message_id(world.rt)) == ["write"]
    await world.settle()
    assert [texts_of(m) for m in world.inbox()] == [RETURNS_ANSWER, RETURNS_ANSWER]


async def test_an_llm_answer_is_awaited_outside_any_transaction(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    world = await make_world(settings=NO_BUTTON, kb=True)
    await use_llm(rt, fake_openai)
    world.says("怎么退货")
    await world.pull()
    # The one-unit try finds no answer it may give there and writes nothing; then the reads (the
    # message, the knowledge base built for the first time, the turns the LLM reads), the LLM's
    # answer outside them, and the write.
    opened = await units_of(world.rt, await newest_message_id(world.rt))
    assert (opened[0], opened[1], opened[-1], opened.count("write")) == ("write", "read", "write", 2)
    assert len(fake_openai.requests) == 1
    await world.settle()
    assert len(world.inbox()) == 1


async def test_a_blank_not_sure_text_stored_before_it_was_refused_answers_with_the_default(
    make_world: WorldFactory,
) -> None:
    """Older versions saved an empty 不确定时的回复 (the console and the config file took it);
    refused on input now, it must not stop a database that holds one from answering: read as
    the default, the customer still gets the not-sure reply and every message is processed."""
    world = await make_world(kb=True)
    async with world.rt.db.write() as session:
        blank = {"provider": "builtin", "not_sure_text": "  "}
        session.add(GlobalSetting(key=AI_KEY, data=blank, version=1, updated_at=world.rt.clock.now()))
    world.says("你们公司的股票代码是多少")
    await world.settle()
    [answer] = world.inbox()
    assert answer["body"]["head_content"] == DEFAULT_NOT_SURE_TEXT
    async with world.rt.db.read() as session:
        assert await session.scalar(select(func.count()).where(Message.processed_at.is_(None))) == 0
