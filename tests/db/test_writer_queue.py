"""SQLite's in-process writer queue: one writer at a time, urgent ones first."""

from __future__ import annotations

import asyncio

from kefu.db.engine import WriterQueue


async def test_urgent_writers_go_before_waiting_routine_ones() -> None:
    queue, order = WriterQueue(), []
    release = asyncio.Event()

    async def writer(name: str, *, urgent: bool, hold: asyncio.Event | None = None) -> None:
        async with queue.hold(urgent=urgent):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(writer("job-1", urgent=False, hold=release))
    await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(writer("job-2", urgent=False)),
        asyncio.create_task(writer("callback", urgent=True)),
    ]
    await asyncio.sleep(0)
    assert order == ["job-1"]  # one writer at a time
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["job-1", "callback", "job-2"]


async def test_a_cancelled_waiter_does_not_block_the_queue() -> None:
    queue, order = WriterQueue(), []
    release = asyncio.Event()

    async def writer(name: str, hold: asyncio.Event | None = None) -> None:
        async with queue.hold(urgent=False):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(writer("a", release))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(writer("b"))
    last = asyncio.create_task(writer("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, last), timeout=5)
    assert order == ["a", "c"]
    async with queue.hold(urgent=True):  # and it is free again
        order.append("d")
    assert order[-1] == "d"
