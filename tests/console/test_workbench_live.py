"""The live signal: a customer's message, decided on by the engine, wakes the open pages' event
stream (`event: changed`) once the transaction commits — nothing before; the stream's endpoint
answers a request that is not an EventSource at once."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from kefu.console import live
from kefu.jobs import wakeup
from kefu.runtime import Runtime
from tests.console.conftest import SignIn
from tests.console.workbench_world import customer_in_pool, make_world
from tests.reception.conftest import WorldFactory

__all__ = ["make_world"]
pytestmark = [pytest.mark.db]
POOL_ONLY = {"reception": {"mode": "ai_first"}, "routing": {"rules": [{"rule": "exclusive"}]}}


async def test_a_customer_entering_the_pool_wakes_the_event_stream(make_world: WorldFactory) -> None:
    world = await make_world(settings=POOL_ONLY, servicers=["zhangsan"], kb=True)
    stream = live.changes(world.rt, lifetime_s=30)
    assert (await anext(stream)).startswith("retry: ")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing changed yet: no event
    await customer_in_pool(world)
    assert await asyncio.wait_for(waiting, timeout=5) == "event: changed\ndata: \n\n"
    await stream.aclose()


async def test_a_change_is_announced_on_commit_only(make_world: WorldFactory) -> None:
    world = await make_world(settings=POOL_ONLY, servicers=["zhangsan"], kb=True)
    changed = wakeup.subscribe_changes()
    try:
        async with world.rt.db.write() as session:
            await session.run_sync(wakeup.announce_change)
            await session.run_sync(wakeup.announce_change)  # twice in one transaction: once
            assert not changed.is_set()
        await asyncio.sleep(0)
        assert changed.is_set()
        changed.clear()
        try:
            async with world.rt.db.write() as session:
                await session.run_sync(wakeup.announce_change)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        await asyncio.sleep(0)
        assert not changed.is_set()
    finally:
        wakeup.unsubscribe_changes(changed)


async def test_the_events_endpoint_answers_a_plain_request_at_once(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    answer = await servicer.get("/console/events")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text == f"retry: {live.RETRY_MS}\n\n"


async def test_live_pages_ask_for_the_stream_and_refresh_on_its_event(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    for path, fragment in [
        ("/console/workbench/pool", "/console/workbench/pool/list"),
        ("/console/workbench/sessions", "/console/workbench/sessions/list"),
        ("/console/workbench/awaiting-reply", "/console/workbench/awaiting-reply/list?min_minutes=0"),
        ("/console/conversations", "/console/conversations/list?page=1"),
    ]:
        page = (await servicer.get(path)).text
        assert f'hx-get="{fragment}"' in page and "kefu:changed from:body" in page
    script = (await servicer.get("/console/static/console.js")).text
    assert 'new EventSource("/console/events")' in script


async def test_another_processs_change_reaches_the_stream_through_postgres(rt: Runtime) -> None:
    """A NOTIFY on kefu_changes from another connection (as another Kefu process commits) wakes
    this process's streams through its one LISTEN relay; SQLite has no other process."""
    if rt.db.dialect != "postgresql":
        pytest.skip("needs PostgreSQL (KEFU_TEST_DATABASE_URL): one process only on SQLite")
    stream = live.changes(rt, lifetime_s=30)
    assert (await anext(stream)).startswith("retry: ")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(1.0)  # the relay's LISTEN connection opens
    async with await psycopg.AsyncConnection.connect(
        wakeup.libpq_conninfo(rt.db.url), autocommit=True
    ) as other:
        await other.execute("SELECT pg_notify('kefu_changes', '')")
    assert await asyncio.wait_for(waiting, timeout=5) == "event: changed\ndata: \n\n"
    await stream.aclose()
