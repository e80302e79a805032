"""Reception hours through the simulator: a statutory holiday is closed (the off-hours message once,
no transfer, the AI goes on answering), an adjusted working Saturday is open, and a customer
who asked off hours is routed when the next period opens (the clock is moved, never slept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
    assert answer["body"]["head_content"].startswith("收到商品 7 天内")
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
