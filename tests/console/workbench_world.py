"""A reception world for the workbench pages: the simulator's corp with one account whose
servicers are 张三 (zhangsan, the console's servicer login) and 李四, routing that sends every
customer to the pool (no exclusive servicer is set), the AI answering from the knowledge base."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import httpx

from kefu.accounts.models import Connection
from tests.console.conftest import csrf_of
from tests.factories import make_account
from tests.reception.conftest import World, WorldFactory, make_world, set_up_account

__all__ = [
    "another_customer",
    "customer_in_pool",
    "desk",
    "make_world",
    "post",
    "second_account",
    "waiting_world",
]

POOL_ONLY = {"reception": {"mode": "ai_first"}, "routing": {"rules": [{"rule": "exclusive"}]}}


async def waiting_world(make_world: WorldFactory, servicers: tuple[str, ...] = ("zhangsan", "lisi")) -> World:
    """A world whose customer asked the AI, then for a person, and now waits in the pool."""
    world = await make_world(settings=POOL_ONLY, servicers=list(servicers), kb=True)
    await customer_in_pool(world)
    return world


async def customer_in_pool(world: World) -> None:
    world.says("怎么退货")
    await world.settle()
    world.rt.clock.advance(timedelta(seconds=5))  # a frozen clock would put every line in one second
    world.says("转人工")
    await world.settle()
    assert world.session()["state"] == 2, world.session()


async def second_account(world: World, servicers: tuple[str, ...] = ("lisi",)) -> World:
    """Another account of the same corp (not zhangsan's), its own customer waiting in its pool."""
    rt, sim = world.rt, world.sim
    open_kfid = sim.control("POST", f"corps/{world.corp['corpid']}/accounts", {"name": "青禾商城"})[
        "open_kfid"
    ]
    sim.control("POST", f"accounts/{open_kfid}/servicers", {"userids": list(servicers)})
    async with rt.db.read() as session:
        connection = await session.get(Connection, world.account.connection_id)
    assert connection is not None
    account = await make_account(rt, connection, open_kfid)
    await set_up_account(rt, account.id, POOL_ONLY, servicers)
    other = another_customer(dataclasses.replace(world, open_kfid=open_kfid, account=account), "老王")
    await customer_in_pool(other)
    return other


def another_customer(world: World, nickname: str) -> World:
    created = world.sim.control("POST", f"corps/{world.corp['corpid']}/customers", {"nickname": nickname})
    return dataclasses.replace(world, customer=created["external_userid"])


async def post(client: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    """Submit a form of `page` the way a browser does: with the page's CSRF token."""
    token = csrf_of(await client.get(page))
    return await client.post(action, data={"csrf_token": token, **fields})


def desk(html: str) -> list[int]:
    """The conversation ids a pool or sessions table lists, in order."""
    return [int(found) for found in re.findall(r'data-conversation="(\d+)"', html)]
