"""Small talk end to end through the simulator: a greeting, thanks or goodbye gets the admin's
short reply (`ai.small_talk`) as plain text — no 转人工 button, no not-sure text, no off-hours
message, nothing counted toward the not-sure streak — while a real question the AI cannot
answer still offers the button; with an LLM configured the model is not asked."""

from __future__ import annotations

import pytest

from kefu.accounts.settings import save_ai_settings
from kefu.ai import DEFAULT_NOT_SURE_TEXT, DEFAULT_NOT_SURE_TEXT_NO_BUTTON
from kefu.ai.settings import AISettings
from kefu.reception.core import TRANSFER_CLICK_ID
from kefu.runtime import Runtime
from tests.ai.fake_openai import FakeOpenAI
from tests.ai.fake_openai import fake_openai as fake_openai  # the fixture
from tests.factories import api_client
from tests.reception.conftest import WorldFactory, texts_of
from tests.reception.test_ai_providers import use_llm
from tests.reception.test_hours import OFF_HOURS, WEDNESDAY_EVENING

pytestmark = [pytest.mark.db, pytest.mark.e2e]

GREETING = "您好，请问有什么可以帮您？"
THANKS = "不客气，还有其他问题随时告诉我。"
STREAK_ONLY = {
    "reception": {"button_transfer": {"enabled": False}, "not_sure_streak": {"enabled": True, "count": 2}}
}


async def test_a_greeting_gets_the_greeting_reply_with_no_button_and_a_real_question_the_button(
    make_world: WorldFactory,
) -> None:
    world = await make_world(kb=True, servicers=["alice"])  # AI first, the button on every answer
    world.says("你好")
    await world.settle()
    world.says("你们公司的股票代码是多少")
    await world.settle()
    greeting, not_sure = world.inbox()
    assert (greeting["msgtype"], texts_of(greeting)) == ("text", GREETING)
    assert not_sure["msgtype"] == "msgmenu" and not_sure["body"]["head_content"] == DEFAULT_NOT_SURE_TEXT
    assert [item["click"]["id"] for item in not_sure["body"]["list"]] == [TRANSFER_CLICK_ID]
    purposes = [action.payload["action"]["purpose"] for action in await world.actions()]
    assert purposes == ["small_talk", "not_sure"]
    assert world.session()["state"] == 1


async def test_thanks_twice_never_offers_the_button_and_small_talk_does_not_reset_the_streak(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings=STREAK_ONLY, kb=True, servicers=["alice"])
    world.says("谢谢")
    world.says("谢谢！")
    await world.settle()
    assert [(m["msgtype"], texts_of(m)) for m in world.inbox()] == [("text", THANKS)] * 2
    world.says("你们公司的股票代码是多少")  # not sure: the first of the streak
    await world.settle()
    world.says("好的")  # an acknowledgement: no reply, the streak kept
    await world.settle()
    world.says("火星上能用吗")  # not sure again: the second in a row offers the button
    await world.settle()
    first_unsure, second_unsure = world.inbox()[2:]
    assert (first_unsure["msgtype"], texts_of(first_unsure)) == ("text", DEFAULT_NOT_SURE_TEXT_NO_BUTTON)
    assert second_unsure["msgtype"] == "msgmenu"
    assert [item["click"]["id"] for item in second_unsure["body"]["list"]] == [TRANSFER_CLICK_ID]
    world.clicks(second_unsure["msgid"], TRANSFER_CLICK_ID)
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


async def test_off_hours_a_greeting_is_answered_and_leaves_no_message_for_servicers(
    make_world: WorldFactory,
) -> None:
    world = await make_world(at=WEDNESDAY_EVENING, settings=OFF_HOURS, kb=True, servicers=["alice"])
    world.says("在吗")
    await world.settle()
    [greeting] = world.inbox()
    assert (greeting["msgtype"], texts_of(greeting)) == ("text", GREETING)
    async with api_client(world.rt) as api:
        assert (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json() == []
    world.says("你们老板叫什么名字")  # the first question it cannot answer gets the off-hours message
    await world.settle()
    assert texts_of(world.inbox()[-1]).startswith("现在是休息时间，人工服务时间：")


async def test_the_admins_replies_are_sent_and_an_empty_one_sends_nothing(
    rt: Runtime, make_world: WorldFactory
) -> None:
    replies = {
        "greeting": "您好，这里是青禾家电售后，请讲",
        "goodbye": "",
        "acknowledgement": "好的，有需要随时找我",
    }
    async with rt.db.write() as session:
        ai = AISettings(small_talk=replies)
        await save_ai_settings(
            session, ai, secrets=rt.secrets, changed_by="t", source="cli", now=rt.clock.now()
        )
    world = await make_world(settings={"reception": {"mode": "ai_only"}}, kb=True)
    for message in ("您好", "收到", "拜拜"):
        world.says(message)
        await world.settle()
    assert [texts_of(m) for m in world.inbox()] == [replies["greeting"], replies["acknowledgement"]]


async def test_with_an_llm_small_talk_gets_the_same_reply_and_the_model_is_not_asked(
    rt: Runtime, make_world: WorldFactory, fake_openai: FakeOpenAI
) -> None:
    await use_llm(rt, fake_openai)
    world = await make_world(kb=True, servicers=["alice"])
    world.says("你好")
    await world.settle()
    [greeting] = world.inbox()
    assert (greeting["msgtype"], texts_of(greeting)) == ("text", GREETING)
    assert fake_openai.requests == []
