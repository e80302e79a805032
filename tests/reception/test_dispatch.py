"""Dispatch end to end, through the simulator: when room appears (a session ends, a servicer comes
on duty, a customer reaches the pool while it frees) the oldest waiting customer gets it; a
customer waiting for one servicer falls back when they stop; a trans with no clear answer that
did not happen is tried again; outside reception hours the pool waits for the next period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.reception.dispatch import sweep
from tests.reception.conftest import WorldFactory
from tests.reception.routing_world import (
    HUMAN_ONLY,
    ONE_EACH,
    another_customer,
    api_for,
    bind_to_contact,
    reception_status,
)

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def test_when_a_session_ends_the_oldest_waiting_customer_gets_the_servicer(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice"])
    first, second, third = (another_customer(world, name) for name in ("甲", "乙", "丙"))
    for customer in (first, second, third):
        customer.says("人工")
        await world.settle()
    assert [c.session()["state"] for c in (first, second, third)] == [3, 2, 2]

    first.servicer("end", "alice")
    await world.settle()
    assert [c.session()["state"] for c in (first, second, third)] == [4, 3, 2]  # the oldest first
    assert second.session()["servicer_userid"] == "alice"
    conversation = await second.conversation()
    async with api_for(world) as api:
        decisions = (await api.get(f"/api/v1/conversations/{conversation.id}/routing")).json()
    assert [(d["reason"], d["outcome"]) for d in decisions] == [
        ("human_only", "pool"),
        ("dispatch", "assign"),
    ]


async def test_capacity_freed_while_a_customer_is_on_the_way_to_the_pool_is_used_at_once(
    make_world: WorldFactory,
) -> None:
    """Found by the 4-worker concurrency run: the round asked for when alice's session ended ran
    while the second customer's trans → 2 was still on its way, so it found nobody waiting; the
    customer then sat in the pool next to a free servicer until the sweep (a poll interval, 60 s
    by default). Entering the pool now asks for a round itself."""
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice"])
    first = another_customer(world, "甲")
    first.says("人工")
    await world.settle()
    world.sim.control("POST", "faults", {"endpoint": "kf/service_state/trans", "errcode": 45009, "count": 1})
    world.says("人工")
    await world.settle()  # decided: the pool; the trans → 2 is refused once and retried in 2 s
    assert world.session()["state"] == 0

    first.servicer("end", "alice")
    await world.settle()  # the round finds nobody waiting in the pool yet
    assert world.session()["state"] == 0
    world.rt.clock.advance(timedelta(seconds=3))
    await world.settle()  # the trans → 2 lands; no sweep runs here
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


async def test_a_transfer_that_got_no_clear_answer_and_did_not_happen_is_tried_again(
    make_world: WorldFactory,
) -> None:
    """Found by the full concurrency run (a connection reset under load): the trans → 3 was
    cleared and reconciled, the mirror agreed (state 0), and the customer's request for a human
    was lost until they wrote again. `service_state/get` showed it had not happened, so it is
    safe to try again, as a transport error is."""
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice"])
    world.sim.control("POST", "faults", {"endpoint": "kf/service_state/trans", "errcode": -1, "count": 1})
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 0  # -1, then service_state/get: not moved
    world.rt.clock.advance(timedelta(seconds=3))
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")
    transfers = [a for a in await world.actions() if a.kind == "transfer"]
    assert [(a.status, a.payload["tries"]) for a in transfers] == [("done", 2)]


async def test_a_servicer_coming_on_duty_takes_the_pool(make_world: WorldFactory) -> None:
    world = await make_world(settings=HUMAN_ONLY, servicers=["alice"])
    reception_status(world, "alice", 2)
    await world.settle()
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2

    reception_status(world, "alice", 1)
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


async def test_waiting_for_a_full_exclusive_servicer_then_falling_back_when_they_stop(
    make_world: WorldFactory,
) -> None:
    world = await make_world(
        settings={
            **HUMAN_ONLY,
            **ONE_EACH,
            "routing": {"rules": [{"rule": "exclusive", "when_unavailable": "wait"}, {"rule": "idle"}]},
        },
        servicers=["alice", "bob"],
    )
    busy = another_customer(world, "忙")
    async with api_for(world) as api:
        for customer in (busy, world):
            await bind_to_contact(
                api, world, {"name": customer.customer, "exclusive_userid": "bob"}, customer=customer.customer
            )
    busy.says("人工")
    await world.settle()
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2  # alice has room, but the rule says wait for bob
    assert (await world.conversation()).reserved_for == "bob"

    reception_status(world, "bob", 2)  # bob stops reception: the reservation falls back
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


async def test_dispatch_pauses_outside_hours_and_resumes_when_a_period_begins(
    make_world: WorldFactory,
) -> None:
    evening = {"hours": {"weekly": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}}}
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH, **evening}, servicers=["alice"])
    first = another_customer(world, "甲")
    first.says("人工")
    await world.settle()
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2

    world.rt.clock.set(world.rt.clock.now().replace(hour=11))  # 19:00 Shanghai: closed
    first.servicer("end", "alice")
    await world.settle()
    assert world.session()["state"] == 2  # room, but reception is closed: the pool waits

    world.rt.clock.set(world.rt.clock.now().replace(hour=1) + timedelta(days=1))  # 09:00 next day
    assert await sweep(world.rt) == 1  # the sweep (every poll interval) finds the pool
    await world.run_due()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")
