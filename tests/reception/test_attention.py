"""What needs a supervisor's eye, end to end through the simulator: the no-reply notice and its
list, and takes in the WeCom app that put a servicer past their cap."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.reception.reconcile import sweep as state_check
from tests.db_faults import refusing
from tests.reception.conftest import World, WorldFactory, texts_of
from tests.reception.routing_world import HUMAN_ONLY, ONE_EACH, another_customer, api_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]
NOTICE = "客服正在查询，请稍候。"
NO_REPLY = {
    "reception": {"mode": "human_only"},
    "queue": {"no_reply_notice": {"enabled": True, "minutes": 5, "text": NOTICE}},
}


def notices(inbox: list[dict[str, object]]) -> int:
    return sum(texts_of(m) == NOTICE for m in inbox)  # type: ignore[arg-type]


async def test_a_servicer_silent_for_five_minutes_gets_the_customer_the_notice_once(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings=NO_REPLY, servicers=["alice"])
    world.says("人工")
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")

    async with api_for(world) as api:
        url = f"/api/v1/accounts/{world.account.id}/awaiting-reply"
        world.rt.clock.advance(timedelta(minutes=4))
        await world.run_due()
        assert notices(world.inbox()) == 0
        assert (await api.get(url, params={"min_minutes": 5})).json() == []
        world.rt.clock.advance(timedelta(minutes=1))
        await world.run_due()
        assert notices(world.inbox()) == 1
        waiting = (await api.get(url, params={"min_minutes": 5})).json()
        assert [
            (w["external_userid"], w["servicer_userid"], w["waiting_minutes"], w["notice_sent"])
            for w in waiting
        ] == [(world.customer, "alice", 5, True)]

        world.says("还在吗？")
        await world.settle()
        world.rt.clock.advance(timedelta(minutes=30))
        await world.run_due()
        assert notices(world.inbox()) == 1  # once per session

        world.servicer("reply", "alice", msgtype="text", text={"content": "在的，马上为您查询"})
        await world.settle()
        assert (await api.get(url)).json() == []


async def test_a_servicer_who_answers_in_time_sends_no_notice(make_world: WorldFactory) -> None:
    world = await make_world(settings=NO_REPLY, servicers=["alice"])
    world.says("人工")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=2))
    world.servicer("reply", "alice", msgtype="text", text={"content": "您好，我是 alice"})
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=30))
    await world.run_due()
    assert notices(world.inbox()) == 0


async def alice_full_and_one_waiting(make_world: WorldFactory) -> tuple[World, World]:
    """alice (cap 1) serves the first customer, a second waits in the pool; open all day, so
    moving the clock by hours keeps reception open."""
    all_day = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    world = await make_world(
        settings={"reception": {"mode": "human_only"}, "hours": {"weekly": all_day}, **ONE_EACH},
        servicers=["alice"],
    )
    world.says("人工")
    await world.settle()
    later = another_customer(world, "乙")
    later.says("人工")
    await world.settle()
    return world, later


async def test_a_take_in_the_wecom_app_past_the_cap_is_flagged(make_world: WorldFactory) -> None:
    world, later = await alice_full_and_one_waiting(make_world)
    assert later.session()["state"] == 2  # alice is at her cap of 1: Kefu does not go past it

    later.servicer("take", "alice")  # she takes a second customer herself, in the WeCom app
    await world.settle()
    assert (later.session()["state"], later.session()["servicer_userid"]) == (3, "alice")
    async with api_for(world) as api:
        flagged = (await api.get(f"/api/v1/accounts/{world.account.id}/over-cap")).json()
    conversation = await later.conversation()
    assert [(f["conversation_id"], f["rule"], f["servicer_userid"]) for f in flagged] == [
        (conversation.id, "app", "alice")
    ]
    assert flagged[0]["explanation"] == "企业微信内接入 → alice（当前 1 个会话） → 超出接待上限"


async def test_a_human_session_quiet_for_twelve_hours_is_checked_with_wecom(make_world: WorldFactory) -> None:
    """The servicer ended it in the WeCom app and Kefu missed the event (no pull since): after
    12 quiet hours the state check asks WeCom, frees the servicer and gives the waiting customer
    the servicer."""
    world, later = await alice_full_and_one_waiting(make_world)
    assert later.session()["state"] == 2
    world.servicer("end", "alice")  # Kefu does not pull, so it still counts alice as busy

    world.rt.clock.advance(timedelta(hours=11))
    assert await state_check(world.rt) == 0
    world.rt.clock.advance(timedelta(hours=2))
    assert await state_check(world.rt) == 1
    await world.run_due()
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.servicer_userid) == (4, None)
    kinds = [item.kind for item in await world.transcript() if item.type == "timeline"]
    assert "state_checked" in kinds and "reconciled" in kinds
    assert await state_check(world.rt) == 0  # checked once, not at every sweep

    await world.run_due()  # alice's freed place went to the customer waiting in the pool
    assert (later.session()["state"], later.session()["servicer_userid"]) == (3, "alice")


async def test_a_transfer_whose_delivery_ran_out_of_attempts_is_checked_with_wecom(
    make_world: WorldFactory,
) -> None:
    """The transfer's delivery job failed for good without settling its row (here: every write
    to the outbox refused): the state check finds it by its conversation's ended deliver jobs,
    records it failed and asks WeCom how the session stands."""
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice"])
    async with refusing(world.rt, "conversation_actions", "UPDATE"):
        world.says("人工")
        await world.settle()
        for _ in range(12):  # past every backoff of its ten attempts
            world.rt.clock.advance(timedelta(minutes=10))
            await world.run_due()
    [transfer] = [a for a in await world.actions() if a.kind == "transfer"]
    assert transfer.status == "pending" and transfer.payload.get("tries") is None

    assert await state_check(world.rt) == 1
    await world.run_due()
    [transfer] = [a for a in await world.actions() if a.kind == "transfer"]
    assert (transfer.status, transfer.error) == ("failed", "the delivery job was failed")
    kinds = [item.kind for item in await world.transcript() if item.type == "timeline"]
    assert "state_checked" in kinds and "reconciled" in kinds
