"""The reception worlds the routing, dispatch, pool and queue tests share (end to end through the
simulator, on tests/reception/conftest.py's World): more customers, CRM bindings, servicers
toggling reception in the WeCom app, and a full pool with a queue cap and timeout."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager

import httpx

from tests.factories import api_client
from tests.reception.conftest import World, WorldFactory

HUMAN_ONLY = {"reception": {"mode": "human_only"}}
ONE_EACH = {"queue": {"default_max_sessions": 1}}
QUEUE_LIMITS = {
    "max_length": 1,
    "over_length_message": {"mode": "fixed", "text": "排队人数已满，请稍后再试"},
    "timeout_minutes": 30,
    "timeout_message": {"mode": "fixed", "text": "排队超时，欢迎留言"},
}


def rules(*names: str) -> dict[str, object]:
    return {"routing": {"rules": [{"rule": name} for name in names]}}


def another_customer(world: World, nickname: str) -> World:
    created = world.sim.control("POST", f"corps/{world.corp['corpid']}/customers", {"nickname": nickname})
    return dataclasses.replace(world, customer=created["external_userid"])


def api_for(world: World) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return api_client(world.rt)


async def bind_to_contact(
    api: httpx.AsyncClient, world: World, contact: dict[str, object], *, customer: str | None = None
) -> int:
    """Create the contact (or company and contact) and bind the world's WeChat customer to it."""
    created = await api.post("/api/v1/crm/contacts", json=contact)
    assert created.status_code == 201, created.text
    wechat = await api.post(
        "/api/v1/crm/wechat-customers",
        json={"connection_id": world.account.connection_id, "external_userid": customer or world.customer},
    )
    bound = await api.put(
        f"/api/v1/crm/wechat-customers/{wechat.json()['id']}/contact",
        json={"contact_id": created.json()["id"]},
    )
    assert bound.status_code == 200, bound.text
    return int(wechat.json()["id"])


def reception_status(world: World, userid: str, status: int) -> None:
    """A servicer toggles reception in the WeCom app (1 接待中, 2 停止接待)."""
    world.sim.control(
        "POST", f"corps/{world.corp['corpid']}/members/{userid}/reception", {"status": status, "stop_type": 0}
    )


async def full_pool(make_world: WorldFactory, **sections: object) -> tuple[World, World]:
    """alice off duty; one customer already waits, the pool's cap is 1 (`sections`: more settings)."""
    world = await make_world(
        settings={"reception": {"mode": "ai_first"}, "queue": QUEUE_LIMITS, **sections},
        servicers=["alice"],
        kb=True,
    )
    reception_status(world, "alice", 2)
    await world.settle()
    first = another_customer(world, "甲")
    first.says("转人工")
    await world.settle()
    assert first.session()["state"] == 2
    return world, first
