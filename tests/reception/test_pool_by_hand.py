"""The pool and human sessions by hand, through the API and the simulator: the pool lists who
waits, since when and what they asked; of two servicers taking one customer exactly one wins; a
take in the WeCom app leaves the pool; a session is handed over to a colleague within their cap."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.reception.conftest import World, WorldFactory
from tests.reception.routing_world import HUMAN_ONLY, ONE_EACH, another_customer, api_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def pool_of_two(make_world: WorldFactory) -> tuple[World, World]:
    """alice and bob each serve one customer (cap 1); two more wait in the pool, the first of
    them (`world`'s own customer) asking about a refund."""
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice", "bob"])
    for name in ("甲", "乙"):
        another_customer(world, name).says("人工")
        await world.settle()
    later = another_customer(world, "丙")
    world.says("我想退款，订单号 123")
    await world.settle()
    world.rt.clock.advance(timedelta(seconds=30))
    later.says("在吗")
    await world.settle()
    assert (world.session()["state"], later.session()["state"]) == (2, 2)
    return world, later


async def test_the_pool_lists_who_waits_since_when_and_what_they_asked(make_world: WorldFactory) -> None:
    world, later = await pool_of_two(make_world)
    async with api_for(world) as api:
        pool = (await api.get(f"/api/v1/accounts/{world.account.id}/pool")).json()
    assert [(w["external_userid"], w["position"], w["first_question"]) for w in pool] == [
        (world.customer, 1, "我想退款，订单号 123"),
        (later.customer, 2, "在吗"),
    ]
    assert pool[0]["waiting_since"] < pool[1]["waiting_since"]


async def test_two_servicers_take_the_same_customer_at_once_and_exactly_one_wins(
    make_world: WorldFactory,
) -> None:
    """Taking by hand may go over the cap (the servicer chose to); only one take wins."""
    world, _ = await pool_of_two(make_world)
    conversation = await world.conversation()
    async with api_for(world) as api:
        answers = await asyncio.gather(
            *(
                api.post(f"/api/v1/conversations/{conversation.id}/take", json={"servicer_userid": userid})
                for userid in ("alice", "bob")
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409], [a.text for a in answers]
    winner = next(a.json()["servicer_userid"] for a in answers if a.status_code == 202)
    loser = next(a.json() for a in answers if a.status_code == 409)
    assert loser["error"] == "conflict" and winner in loser["message"]
    await world.run_due()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, winner)


async def test_a_take_in_the_wecom_app_leaves_the_pool(make_world: WorldFactory) -> None:
    world, later = await pool_of_two(make_world)
    later.servicer("take", "bob")  # in the WeCom app, bob takes the second waiting customer
    await world.settle()
    async with api_for(world) as api:
        pool = (await api.get(f"/api/v1/accounts/{world.account.id}/pool")).json()
        conversation = await later.conversation()
        taken_again = await api.post(
            f"/api/v1/conversations/{conversation.id}/take", json={"servicer_userid": "alice"}
        )
    assert later.session()["servicer_userid"] == "bob"
    assert [(w["external_userid"], w["position"]) for w in pool] == [(world.customer, 1)]
    assert taken_again.status_code == 409
    assert taken_again.json()["message"] == "the customer is already with bob"


async def test_a_session_handed_over_to_a_colleague_within_their_cap(make_world: WorldFactory) -> None:
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice", "bob", "carol"])
    world.says("人工")
    await world.settle()
    assert world.session()["servicer_userid"] == "alice"
    busy = another_customer(world, "忙")  # carol will be full: idle gives this one to bob, then
    busy.says("人工")
    await world.settle()
    conversation = await world.conversation()
    url = f"/api/v1/conversations/{conversation.id}/hand-over"
    async with api_for(world) as api:
        full = await api.post(url, json={"servicer_userid": busy.session()["servicer_userid"]})
        assert full.status_code == 409 and "at the cap" in full.json()["message"]
        moved = await api.post(url, json={"servicer_userid": "carol"})
        assert moved.status_code == 202, moved.text
        await world.run_due()
        assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "carol")
        again = await api.post(url, json={"servicer_userid": "carol"})
        assert again.status_code == 409 and again.json()["message"] == "the customer is already with carol"
        decisions = (await api.get(f"/api/v1/conversations/{conversation.id}/routing")).json()
    assert decisions[-1]["explanation"] == "转接给 → carol（当前 0 个会话）"
