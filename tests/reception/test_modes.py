"""Each reception mode through the simulator, with the built-in AI answering from the account's
knowledge base: AI first (one menu with the transfer button), AI only (no button, keywords
ignored), keyword and button transfers, a not-sure answer, and a non-text message."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.ai import DEFAULT_NOT_SURE_TEXT, DEFAULT_NOT_SURE_TEXT_NO_BUTTON
from kefu.reception.core import TRANSFER_CLICK_ID
from kefu.reception.models import TimelineEntry
from tests.reception.conftest import WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]

RETURNS_ANSWER = "收到商品 7 天内可在订单页申请退货，运费由我们承担。"


async def test_ai_first_answers_from_the_knowledge_base_in_one_menu_with_the_button(
    make_world: WorldFactory,
) -> None:
    world = await make_world(kb=True, servicers=["alice"])
    world.says("请问怎么退货？")
    await world.settle()
    [answer] = world.inbox()
    assert answer["source"] == "send_msg" and answer["msgtype"] == "msgmenu"
    assert answer["body"]["head_content"] == RETURNS_ANSWER
    assert answer["body"]["list"] == [
        {"type": "click", "click": {"id": TRANSFER_CLICK_ID, "content": "转人工"}}
    ]
    assert world.session()["state"] == 1
    # Kefu's own send is in the transcript, after the customer's question.
    lines = [(item.sender, item.text) for item in await world.transcript() if item.type == "message"]
    assert lines == [("customer", "请问怎么退货？"), ("kefu", f"{RETURNS_ANSWER} [转人工]")]


async def test_a_click_on_the_button_transfers_to_a_servicer(make_world: WorldFactory) -> None:
    world = await make_world(kb=True, servicers=["alice"])
    world.says("保修多久？")
    await world.settle()
    [menu] = world.inbox()
    world.clicks(menu["msgid"], TRANSFER_CLICK_ID)
    await world.settle()
    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "alice")
    assert len(world.inbox()) == 1  # the click itself got no AI answer


async def test_a_keyword_transfers_at_once_without_an_ai_answer(make_world: WorldFactory) -> None:
    world = await make_world(kb=True, servicers=["alice"])
    world.says("请帮我转人工，谢谢")  # the keyword inside a sentence
    await world.settle()
    assert world.session()["state"] == 3
    assert world.inbox() == []


async def test_a_not_sure_answer_carries_the_button(make_world: WorldFactory) -> None:
    world = await make_world(kb=True, servicers=["alice"])
    world.says("你们公司的股票代码是多少")
    await world.settle()
    [answer] = world.inbox()
    assert answer["msgtype"] == "msgmenu" and answer["body"]["head_content"] == DEFAULT_NOT_SURE_TEXT
    assert [item["click"]["id"] for item in answer["body"]["list"]] == [TRANSFER_CLICK_ID]
    assert (await world.actions())[0].payload["action"]["purpose"] == "not_sure"


async def test_ai_only_answers_without_a_button_and_ignores_keywords(make_world: WorldFactory) -> None:
    world = await make_world(settings={"reception": {"mode": "ai_only"}}, kb=True, servicers=["alice"])
    world.says("怎么退货")
    world.says("转人工")
    await world.settle()
    first, second = world.inbox()
    assert (first["msgtype"], texts_of(first)) == ("text", RETURNS_ANSWER)
    # Kefu's default not-sure words point at a button only when one is there.
    assert (second["msgtype"], texts_of(second)) == ("text", DEFAULT_NOT_SURE_TEXT_NO_BUTTON)
    assert "按钮" not in DEFAULT_NOT_SURE_TEXT_NO_BUTTON
    assert world.session()["state"] == 1  # never handed to a human


async def test_a_picture_gets_the_non_text_reply_and_no_ai_answer(make_world: WorldFactory) -> None:
    world = await make_world(kb=True)
    world.sends_image()
    await world.settle()
    [reply] = world.inbox()
    assert (reply["msgtype"], texts_of(reply)) == ("text", "暂时只能识别文字，请用文字描述")
    [message] = [item for item in await world.transcript() if item.sender == "customer"]
    assert message.msgtype == "image"


async def test_catching_up_on_eight_questions_answers_the_last_five_and_wecom_refuses_none(
    make_world: WorldFactory,
) -> None:
    """Kefu was down while the customer asked eight times. WeCom allows five sends after the
    customer's latest message, whichever message they answer: Kefu answers the last five, in
    order, and never sends a sixth that WeCom would refuse with 95001."""
    world = await make_world(kb=True)
    for n in range(8):
        world.says(f"第{n}次问：怎么退货")
    await world.pull()
    await world.run_due()
    sends = world.sends()
    assert [s.get("errcode", 0) for s in sends] == [0] * 5
    assert len(world.inbox()) == 5
    conversation = await world.conversation()
    async with world.rt.db.read() as session:
        held = await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.conversation_id == conversation.id, TimelineEntry.kind == "answer_held_back")
            .order_by(TimelineEntry.id)
        )
        assert [entry.detail["newer"] for entry in held] == [7, 6, 5]


async def test_an_answer_still_on_its_way_counts_against_the_customers_newer_messages(
    make_world: WorldFactory,
) -> None:
    """Kefu decided an answer, then the customer wrote five more times before it went out: at
    WeCom that answer counts against the newest of the five. Kefu counts it too, answers four of
    them (the latest four) and WeCom refuses nothing."""
    world = await make_world(kb=True)
    world.says("怎么退货")
    await world.pull()
    await world.run_due(max_jobs=1)  # decided; its delivery has not run yet
    assert world.inbox() == []
    for n in range(5):
        world.says(f"第{n}次问：保修多久")
    await world.run_due()  # the first answer goes out now, after the five
    await world.pull()
    await world.run_due()
    assert [s.get("errcode", 0) for s in world.sends()] == [0] * 5
    assert len(world.inbox()) == 5
