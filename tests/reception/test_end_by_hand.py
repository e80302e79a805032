"""Ending a session through Kefu (POST /conversations/{id}/end): a human session ends in WeCom (the
simulator) with the account's ending message and survey; a wait nobody took ends with the
ending alone (nothing to rate); a session with no servicer and not waiting is refused with 409
saying why, and nothing is sent."""

from __future__ import annotations

import pytest

from tests.factories import api_client
from tests.reception.conftest import MESSAGES_ON, World, WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]
POOL_ONLY = {"reception": {"mode": "human_only"}, "routing": {"rules": [{"rule": "exclusive"}]}}


async def waiting_in_the_pool(make_world: WorldFactory) -> World:
    """A customer who asked for a human on a pool-only account with the messages on: state 2."""
    world = await make_world(settings={**POOL_ONLY, "messages": MESSAGES_ON}, servicers=["alice"])
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2
    return world


async def test_a_human_session_is_ended_by_hand_and_the_customer_hears_the_ending(
    make_world: WorldFactory,
) -> None:
    world = await waiting_in_the_pool(make_world)
    conversation = await world.conversation()
    async with api_client(world.rt) as api:
        taken = await api.post(
            f"/api/v1/conversations/{conversation.id}/take", json={"servicer_userid": "alice"}
        )
        assert taken.status_code == 202
        await world.run_due()
        ended = await api.post(f"/api/v1/conversations/{conversation.id}/end")
        assert ended.status_code == 202 and ended.json()["status"] == "ending"
        await world.run_due()
        assert world.session()["state"] == 4
        ending = world.inbox()[-1]
        assert texts_of(ending).startswith("本次服务已结束") and "请为本次服务评分" in texts_of(ending)
        sent = len(world.sends())
        again = await api.post(f"/api/v1/conversations/{conversation.id}/end")
    assert again.status_code == 409
    assert again.json()["message"] == "the session is neither with a servicer nor waiting in the pool"
    await world.run_due()
    assert len(world.sends()) == sent


async def test_a_wait_nobody_took_ended_by_hand_gets_the_ending_without_a_survey(
    make_world: WorldFactory,
) -> None:
    """No servicer held the session, so there is no service to rate: a survey would ask the
    customer to score a wait (企点 skips it too where the agent sent nothing)."""
    world = await waiting_in_the_pool(make_world)
    conversation = await world.conversation()
    async with api_client(world.rt) as api:
        ended = await api.post(f"/api/v1/conversations/{conversation.id}/end")
        assert ended.status_code == 202
    await world.run_due()
    assert world.session()["state"] == 4
    ending = world.inbox()[-1]
    assert (ending["msgtype"], texts_of(ending)) == ("text", "本次服务已结束，感谢您的咨询")
