"""Routing end to end, through the simulator over real HTTP: round robin shares customers out
evenly, the exclusive servicer named in the CRM (the customer bound to a contact, by hand or by
unionid) gets their customer while on duty and the rule falls back when they are not, the last
servicer gets a returning customer, and every decision is kept with its one-line explanation."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from tests.reception.conftest import WorldFactory
from tests.reception.routing_world import (
    HUMAN_ONLY,
    another_customer,
    api_for,
    bind_to_contact,
    reception_status,
    rules,
)

pytestmark = [pytest.mark.db, pytest.mark.e2e]


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


async def test_exclusive_servicer_from_the_crm_then_last_servicer_then_explained(
    make_world: WorldFactory,
) -> None:
    world = await make_world(
        settings={**HUMAN_ONLY, **rules("exclusive", "last", "idle")}, servicers=["alice", "bob"]
    )
    async with api_for(world) as api:
        wechat_id = await bind_to_contact(api, world, {"name": "王经理", "exclusive_userid": "bob"})
        world.says("在吗")
        await world.settle()
        assert world.session()["servicer_userid"] == "bob"  # idle alone would pick alice (first)

        world.servicer("end", "bob")  # bob ends it in the WeCom app
        await world.settle()
        unbound = await api.delete(f"/api/v1/crm/wechat-customers/{wechat_id}/contact")
        assert unbound.status_code == 204
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


async def test_a_bound_customer_gets_their_companys_servicer_on_duty_and_the_fallback_off_duty(
    make_world: WorldFactory,
) -> None:
    """customer → contact → company's 专属客服 (the contact names none): bob while he receives;
    when he stops, the rule's fallback (`next`: idle) gives alice, and the explanation says why."""
    world = await make_world(
        settings={**HUMAN_ONLY, **rules("exclusive", "idle")}, servicers=["alice", "bob"]
    )
    later = another_customer(world, "乙")
    async with api_for(world) as api:
        company = await api.post(
            "/api/v1/crm/customers", json={"name": "青禾家电", "exclusive_userid": "bob"}
        )
        for customer in (world, later):
            await bind_to_contact(
                api,
                world,
                {"name": customer.customer, "customer_id": company.json()["id"]},
                customer=customer.customer,
            )
        world.says("人工")
        await world.settle()
        assert world.session()["servicer_userid"] == "bob"  # idle alone would pick alice (first)

        reception_status(world, "bob", 2)
        await world.settle()
        later.says("人工")
        await world.settle()
        assert (later.session()["state"], later.session()["servicer_userid"]) == (3, "alice")
        conversation = await later.conversation()
        decisions = (await api.get(f"/api/v1/conversations/{conversation.id}/routing")).json()
    assert [(d["rule"], d["servicer_userid"]) for d in decisions] == [("idle", "alice")]
    assert decisions[0]["explanation"].startswith("专属客服：bob不在接待中")


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
    async with api_for(world) as api:
        decisions = (await api.get(f"/api/v1/conversations/{conversation.id}/routing")).json()
    assert [d["explanation"] for d in decisions] == ["空闲接待：没有可接待的人员 → 进入排队池"]


async def test_a_customer_is_bound_by_unionid_at_their_first_session_and_routed_by_it_after(
    make_world: WorldFactory,
) -> None:
    """Kefu asks kf/customer/batchget at each new session: the nickname and unionid are kept and
    the customer is bound to the contact with that unionid. The first session was routed before
    the answer came (by the next rule); the next one goes to the contact's exclusive servicer."""
    world = await make_world(
        settings={**HUMAN_ONLY, **rules("exclusive", "idle")}, servicers=["alice", "bob"]
    )
    created = world.sim.control(
        "POST",
        f"corps/{world.corp['corpid']}/customers",
        {"nickname": "王经理微信", "unionid": "oUnion_wang"},
    )
    customer = dataclasses.replace(world, customer=created["external_userid"])
    async with api_for(world) as api:
        contact = await api.post(
            "/api/v1/crm/contacts",
            json={"name": "王经理", "unionid": "oUnion_wang", "exclusive_userid": "bob"},
        )
        customer.says("人工")
        await world.settle()
        assert customer.session()["servicer_userid"] == "alice"
        seen = (
            await api.get("/api/v1/crm/wechat-customers", params={"contact_id": contact.json()["id"]})
        ).json()
        assert [(c["external_userid"], c["nickname"], c["unionid"]) for c in seen] == [
            (customer.customer, "王经理微信", "oUnion_wang")
        ]
        history = (await api.get(f"/api/v1/crm/wechat-customers/{seen[0]['id']}/bindings")).json()
        assert [(h["action"], h["by"]) for h in history] == [("bind", "unionid")]

        customer.servicer("end", "alice")
        await world.settle()
        customer.says("又是我")
        await world.settle()
        assert customer.session()["servicer_userid"] == "bob"
