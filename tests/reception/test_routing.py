"""Routing end to end, through the simulator over real HTTP: round robin shares customers out
evenly, the exclusive servicer set through the API gets their customer, the last servicer gets a
returning customer, and every decision is kept with its one-line explanation."""

from __future__ import annotations

import dataclasses
from collections import Counter

import httpx
import pytest

from kefu.api.tokens import create_token
from kefu.app import create_app
from tests.reception.conftest import World, WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]
HUMAN_ONLY = {"reception": {"mode": "human_only"}}


def rules(*names: str) -> dict[str, object]:
    return {"routing": {"rules": [{"rule": name} for name in names]}}


def another_customer(world: World, nickname: str) -> World:
    created = world.sim.control("POST", f"corps/{world.corp['corpid']}/customers", {"nickname": nickname})
    return dataclasses.replace(world, customer=created["external_userid"])


async def api_for(world: World) -> httpx.AsyncClient:
    async with world.rt.db.write() as session:
        _, token = await create_token(session, name="tests", now=world.rt.clock.now())
    app = create_app(runtime=world.rt, run_worker=False)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://kefu.test",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_round_robin_gives_six_customers_two_each(make_world: WorldFactory) -> None:
    """The placeholder gave one servicer all six (6/0/0)."""
    world = await make_world(settings={**HUMAN_ONLY, **rules("round_robin")}, servicers=["a", "b", "c"])
    customers = [another_customer(world, f"客户{i}") for i in range(6)]
    for customer in customers:
        customer.says("你好，我要找人工")
        await world.settle()
    served = Counter(customer.session()["servicer_userid"] for customer in customers)
    assert served == {"a": 2, "b": 2, "c": 2}
    assert [customer.session()["state"] for customer in customers] == [3] * 6


async def test_exclusive_servicer_from_the_api_then_last_servicer_then_explained(
    make_world: WorldFactory,
) -> None:
    world = await make_world(
        settings={**HUMAN_ONLY, **rules("exclusive", "last", "idle")}, servicers=["alice", "bob"]
    )
    async with await api_for(world) as api:
        put = await api.put(
            f"/api/v1/accounts/{world.account.id}/exclusive-servicers/{world.customer}",
            json={"servicer_userid": "bob"},
        )
        assert put.status_code == 200, put.text
        world.says("在吗")
        await world.settle()
        assert world.session()["servicer_userid"] == "bob"  # idle alone would pick alice (first)

        world.servicer("end", "bob")  # bob ends it in the WeCom app
        await world.settle()
        deleted = await api.delete(
            f"/api/v1/accounts/{world.account.id}/exclusive-servicers/{world.customer}"
        )
        assert deleted.status_code == 204
        world.says("我又来了")
        await world.settle()
        assert world.session()["servicer_userid"] == "bob"  # the last servicer

        conversation = await world.conversation()
        answer = await api.get(f"/api/v1/conversations/{conversation.id}/routing")
        assert answer.status_code == 200, answer.text
        lines = [(d["outcome"], d["rule"], d["servicer_userid"], d["explanation"]) for d in answer.json()]
    assert lines == [
        ("assign", "exclusive", "bob", "专属客服 → bob（当前 0 个会话）"),
        ("assign", "last", "bob", "专属客服：未设置 → 上次接待人员 → bob（当前 0 个会话）"),
    ]


async def test_nobody_on_duty_is_explained_and_the_customer_waits_in_the_pool(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings={**HUMAN_ONLY, **rules("idle")}, servicers=["alice"])
    world.sim.control(
        "POST", f"corps/{world.corp['corpid']}/members/alice/reception", {"status": 2, "stop_type": 0}
    )
    await world.settle()
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2
    conversation = await world.conversation()
    assert conversation.queued_at is not None and conversation.reserved_for is None
    async with await api_for(world) as api:
        decisions = (await api.get(f"/api/v1/conversations/{conversation.id}/routing")).json()
    assert [d["explanation"] for d in decisions] == ["空闲接待：没有可接待的人员 → 进入排队池"]
