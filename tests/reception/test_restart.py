"""Restarts in the middle of a conversation: a crashed decision transaction, a send whose outcome
was lost with its transaction, and a worker killed while a send is on the wire. A new Worker
resumes; nothing is lost and no msgid is delivered twice (the simulator's send log proves it)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import pytest
from sqlalchemy import select

from kefu.ingest.models import Message
from kefu.jobs.worker import Worker
from tests.db_faults import refusing
from tests.reception.conftest import World, WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]

QUESTIONS = ["怎么退货", "保修多久", "如何退货", "保修期多长"]


def delivered_once(world: World) -> list[str]:
    """The msgids the customer got, each checked to have been delivered exactly once."""
    delivered = Counter(s["msgid"] for s in world.sends() if s["delivered"])
    assert all(n == 1 for n in delivered.values()), delivered
    return list(delivered)


async def kefu_messages(world: World) -> list[Message]:
    async with world.rt.db.read() as session:
        rows = await session.scalars(select(Message).where(Message.origin == 0).order_by(Message.id))
        return list(rows.all())


async def test_crashed_transactions_resume_with_nothing_lost_or_sent_twice(make_world: WorldFactory) -> None:
    world = await make_world(kb=True)
    world.says(QUESTIONS[0])
    await world.settle()

    # A crash while deciding: the transaction that would store the actions rolls back whole.
    world.says(QUESTIONS[1])
    world.says(QUESTIONS[2])
    async with refusing(world.rt, "conversation_actions"):
        await world.settle()
        assert len(world.inbox()) == 1
    world.rt.clock.advance(60)  # past the retry's backoff; a new worker takes over
    await world.run_due()  # a new Worker each run
    assert len(world.inbox()) == 3

    # A crash after a send went out: its outcome (and Kefu's copy of it) was not written.
    world.says(QUESTIONS[3])
    await world.pull()
    async with refusing(world.rt, "messages"):
        await world.run_due()
    assert len(world.inbox()) == 4
    world.rt.clock.advance(60)
    await world.run_due()  # a new Worker each run

    assert len(world.inbox()) == 4  # the redo re-sent under the same msgid; WeCom kept one
    msgids = delivered_once(world)
    stored = await kefu_messages(world)
    assert [m.msgid for m in stored] == msgids == [m["msgid"] for m in world.inbox()]
    assert [a.status for a in await world.actions()] == ["done", "done", "done", "possibly_delivered"]
    assert stored[-1].payload["kefu"]["possibly_delivered"] is True
    assert [texts_of(m).split(" | ")[0][:4] for m in world.inbox()] == [
        "收到商品",
        "整机保修",
        "收到商品",
        "整机保修",
    ]


async def test_a_worker_killed_while_a_send_is_on_the_wire(make_world: WorldFactory) -> None:
    world = await make_world(kb=True)
    world.sim.control("POST", "faults", {"endpoint": "kf/send_msg", "latency_ms": 400, "count": 1})
    world.says(QUESTIONS[0])
    await world.pull()

    stop = asyncio.Event()
    running = asyncio.create_task(Worker(world.rt, poll_interval_s=0.05).run(stop))
    deadline = time.monotonic() + 15
    while not any(a.payload.get("tries") for a in await actions_or_none(world)):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)  # real time: the worker runs beside this test
    await asyncio.sleep(0.1)  # the call is on the wire (the simulator holds it 0.4 s)
    running.cancel()  # the process dies mid-call
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await asyncio.sleep(0.6)  # whatever was on the wire has landed or is gone by now

    world.rt.clock.advance(600)  # later: a new worker resumes (the stopped one gave its job back)
    await world.run_due()  # a new Worker each run
    [answer] = world.inbox()
    assert delivered_once(world) == [answer["msgid"]]
    [action] = await world.actions()
    # Cut off on the wire, the try is re-made under the same msgid: WeCom delivers it once.
    assert action.status in ("possibly_delivered", "done") and action.msgid == answer["msgid"]
    assert action.payload["tries"] == 2
    assert [m.msgid for m in await kefu_messages(world)] == [answer["msgid"]]


async def actions_or_none(world: World) -> list:
    try:
        return await world.actions()
    except AssertionError:  # no conversation yet
        return []
