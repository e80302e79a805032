"""Reception hours through the simulator: a statutory holiday is closed (the off-hours message once,
no transfer, the AI goes on answering), an adjusted working Saturday is open, and a customer
who asked off hours is routed when the next period opens (the clock is moved, never slept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import api_client
from tests.reception.conftest import WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]

NATIONAL_DAY = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Shanghai, a holiday
ADJUSTED_SATURDAY = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # Saturday 10:00, a 调休 working day
WEDNESDAY_EVENING = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 20:00, after the 09:00-18:00 period
THURSDAY_OPENING = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00
OFF_HOURS = {
    "hours": {"off_hours_message": {"mode": "fixed", "text": "现在是休息时间，人工服务时间：{hours}"}}
}


async def test_a_statutory_holiday_is_closed_off_hours_message_once_and_the_ai_goes_on(
    make_world: WorldFactory,
) -> None:
    world = await make_world(at=NATIONAL_DAY, settings=OFF_HOURS, kb=True, servicers=["alice"])
    world.says("转人工")
    world.says("怎么退货")
    world.says("转人工")
    await world.settle()
    notice, answer = world.inbox()  # the second request for a human says nothing again
    assert texts_of(notice).startswith("现在是休息时间，人工服务时间：") and "09:00-18:00" in texts_of(notice)
    assert texts_of(answer).startswith("收到商品 7 天内")  # as plain text: no 转人工 off hours
    assert world.session()["state"] == 1  # nobody was assigned on a holiday
    assert (await world.conversation()).next_opening_check_at is not None  # waits for opening


async def test_an_adjusted_working_saturday_is_open(make_world: WorldFactory) -> None:
    world = await make_world(at=ADJUSTED_SATURDAY, settings=OFF_HOURS, kb=True, servicers=["alice"])
    world.says("转人工")
    await world.settle()
    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "alice")
    assert world.inbox() == []


async def test_a_customer_who_asked_off_hours_is_routed_when_reception_opens(
    make_world: WorldFactory,
) -> None:
    world = await make_world(at=WEDNESDAY_EVENING, settings=OFF_HOURS, kb=True, servicers=["alice"])
    world.says("人工客服")
    await world.settle()
    assert world.session()["state"] == 1 and len(world.inbox()) == 1
    conversation = await world.conversation()
    assert conversation.next_opening_check_at == THURSDAY_OPENING

    world.rt.clock.set(THURSDAY_OPENING - timedelta(minutes=1))
    await world.run_due()
    assert world.session()["state"] == 1
    world.rt.clock.set(THURSDAY_OPENING)
    await world.run_due()
    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "alice")
    conversation = await world.conversation()
    assert (conversation.next_opening_check_at, conversation.state["waiting_for_opening"]) == (None, False)

    # With alice now, what they write is hers to answer, not a 留言 left for servicers.
    world.says("洗衣机还是漏水")
    await world.settle()
    async with api_client(world.rt) as api:
        [left] = (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json()
    assert [m["text"] for m in left["messages"]] == ["人工客服"]


async def test_off_hours_the_ai_offers_no_transfer_button_and_a_not_sure_reply_says_when_humans_are_back(
    make_world: WorldFactory,
) -> None:
    """The trial: at 20:00 the AI's not-sure reply offered 转人工, which no human could take.
    Off hours no reply carries the button; the first not-sure reply is the off-hours message
    (once per session, as for a request), the question kept for servicers (留言)."""
    world = await make_world(at=WEDNESDAY_EVENING, settings=OFF_HOURS, kb=True, servicers=["alice"])
    world.says("你们老板叫什么名字")  # the AI is not sure
    await world.settle()
    world.says("洗衣机的电机是什么型号")  # not sure again
    world.says("怎么退货")
    await world.settle()
    notice, not_sure, answer = world.inbox()
    assert [m["msgtype"] for m in (notice, not_sure, answer)] == ["text", "text", "text"]  # no button
    assert texts_of(notice).startswith("现在是休息时间，人工服务时间：")
    assert texts_of(not_sure).startswith("这个问题我暂时无法回答")
    assert texts_of(answer).startswith("收到商品 7 天内")
    async with api_client(world.rt) as api:
        [left] = (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json()
    assert left["reason"] == "off_hours"
    assert left["messages"][0]["text"] == "你们老板叫什么名字"

    world.rt.clock.set(THURSDAY_OPENING + timedelta(hours=1))  # in hours the button is back
    world.says("怎么退货")
    await world.settle()
    assert world.inbox()[-1]["msgtype"] == "msgmenu"
    assert texts_of(world.inbox()[-1]).endswith("转人工 | ")
