"""Room made by the admin is used at once: a raised cap (接待上限) or an added servicer takes the
customers already waiting, without waiting for the sweep (a poll interval, 60 s by default).
No sweep runs in these tests: only the jobs the change itself asked for."""

from __future__ import annotations

import pytest

from tests.factories import api_client
from tests.reception.conftest import World, WorldFactory
from tests.reception.routing_world import HUMAN_ONLY, ONE_EACH, another_customer

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def alice_busy_and_two_waiting(world: World) -> list[World]:
    customers = [another_customer(world, name) for name in ("甲", "乙", "丙")]
    for customer in customers:
        customer.says("人工")
        await world.settle()
    assert [c.session()["state"] for c in customers] == [3, 2, 2]
    return customers


async def put_servicers(world: World, servicers: list[dict[str, object]]) -> None:
    async with api_client(world.rt) as api:
        put = await api.put(f"/api/v1/accounts/{world.account.id}/servicers", json={"servicers": servicers})
    assert put.status_code == 200, put.text
    assert put.json()["problems"] == {}


async def test_a_raised_cap_takes_the_next_waiting_customer_at_once(make_world: WorldFactory) -> None:
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice"])
    first, second, third = await alice_busy_and_two_waiting(world)

    await put_servicers(world, [{"userid": "alice", "max_sessions": 2}])
    await world.run_due()
    assert [c.session()["state"] for c in (first, second, third)] == [3, 3, 2]  # the oldest first
    assert second.session()["servicer_userid"] == "alice"


async def test_an_added_servicer_takes_the_waiting_customers_at_once(make_world: WorldFactory) -> None:
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice"])
    world.sim.control("POST", f"corps/{world.corp['corpid']}/members", {"userid": "bob", "name": "鲍勃"})
    first, second, third = await alice_busy_and_two_waiting(world)

    await put_servicers(world, [{"userid": "alice"}, {"userid": "bob"}])
    await world.run_due()
    assert [c.session()["state"] for c in (first, second, third)] == [3, 3, 2]
    assert second.session()["servicer_userid"] == "bob"
