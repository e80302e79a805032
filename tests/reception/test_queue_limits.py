"""The queue's cap and timeout through the simulator: over the cap the customer hears so and stays
with the AI; past the timeout the wait ends with the timeout message (WeCom refusing that end:
tests/reception/test_refusals.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.reception.conftest import WorldFactory, texts_of
from tests.reception.routing_world import full_pool

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def test_over_the_queue_cap_the_customer_hears_so_and_stays_with_the_ai(
    make_world: WorldFactory,
) -> None:
    world, _ = await full_pool(make_world)
    world.says("转人工")
    await world.settle()
    assert world.session()["state"] == 1  # not queued: the AI still answers
    assert texts_of(world.inbox()[-1]) == "排队人数已满，请稍后再试"
    world.says("怎么退货")
    await world.settle()
    assert world.inbox()[-1]["source"] == "send_msg"  # the AI's answer


async def test_a_queue_timeout_ends_the_wait_with_its_message(make_world: WorldFactory) -> None:
    """(WeCom refusing 2 → 4, UNCONFIRMED in its docs: tests/reception/test_refusals.py.)"""
    world, first = await full_pool(make_world)
    world.rt.clock.advance(timedelta(minutes=31))
    await world.run_due()
    conversation = await first.conversation()
    assert first.session()["state"] == 4
    assert texts_of(first.inbox()[-1]) == "排队超时，欢迎留言"
    assert conversation.state is not None
    assert conversation.state["recent_sessions"][-1]["queue_timeout"] is True
