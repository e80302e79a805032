"""Customer → simulator → signed, encrypted callback → Kefu over real HTTP → pull → stored once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text

from kefu.app import create_app
from kefu.db.engine import sync_url
from kefu.ingest.models import CallbackEvent, Message
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from kefu.threaded_server import ThreadedServer
from tests.ingest.conftest import Wired

pytestmark = [pytest.mark.db, pytest.mark.e2e]


@pytest.fixture
def kefu(wired: Wired) -> Iterator[ThreadedServer]:
    """Kefu serving in a thread with its own engine and in-process worker, on the test's clock."""
    settings = wired.rt.settings.model_copy(update={"poll_interval_s": 3600})
    with ThreadedServer(
        create_app(settings=settings, clock=wired.rt.clock, run_worker=True), name="kefu"
    ) as server:
        url = f"{server.url}/wecom/callback/{wired.connection.id}"
        saved = wired.sim.control(
            "PUT", f"corps/{wired.corp['corpid']}/callback", {"url": url, "verify": True}
        )
        assert saved["verified"] is True  # Kefu answered WeCom's GET verification
        yield server


async def wait_for(rt: Runtime, predicate_sql, expected: int, timeout_s: float = 15.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        async with rt.db.read() as session:
            value = int(await session.scalar(predicate_sql) or 0)
        if value >= expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)  # real time: Kefu's worker runs in another thread


def count(model) -> object:
    query = select(func.count()).select_from(model)
    # Pulled items only: the reception engine stores Kefu's own replies as origin-0 messages too.
    return query.where(Message.origin != 0) if model is Message else query


def process_jobs() -> object:
    return select(func.count()).select_from(Job).where(Job.task == "ingest.process")


async def test_a_customer_message_reaches_kefu_once(wired: Wired, kefu: ThreadedServer) -> None:
    item = wired.customer_says("你好，我的洗衣机不转了")
    assert await wait_for(wired.rt, count(Message), 1) == 1
    assert wired.sim.flush_callbacks()
    async with wired.rt.db.read() as session:
        stored = (await session.scalars(select(Message).where(Message.origin != 0))).one()
    assert stored.msgid == item["msgid"] and stored.payload["text"]["content"] == "你好，我的洗衣机不转了"


async def test_a_callback_delivered_twice_stores_the_message_once(wired: Wired, kefu: ThreadedServer) -> None:
    wired.sim.control("POST", "faults", {"endpoint": "callback", "callback": "fail", "count": 1})
    wired.customer_says("第一条")
    assert wired.sim.flush_callbacks()
    deliveries = [d for d in wired.sim.control("GET", "callbacks")["deliveries"] if d["open_kfid"]]
    assert len(deliveries) == 1 and len(deliveries[0]["attempts"]) >= 2  # one message, delivered again
    # Kefu answered both; the re-send is the same signed request, a replay: recorded once
    assert all(a["outcome"].startswith("HTTP 200") for a in deliveries[0]["attempts"])
    assert await wait_for(wired.rt, count(CallbackEvent), 1) == 1
    await wait_for(wired.rt, count(Message), 1)
    await asyncio.sleep(0.5)  # give a wrongful second store time to show
    async with wired.rt.db.read() as session:
        assert await session.scalar(count(Message)) == 1
        assert await session.scalar(process_jobs()) == 1  # and it was handed on once


async def test_a_slow_answer_makes_wecom_resend_and_nothing_is_stored_twice(
    wired: Wired, kefu: ThreadedServer
) -> None:
    """Hold the database for longer than the simulator's 0.5 s callback timeout, so the
    first delivery times out and is sent again while Kefu is still answering it."""
    url = wired.rt.settings.database_url
    engine = create_engine(sync_url(url))
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("BEGIN"))
                conn.execute(text("LOCK TABLE kf_accounts IN EXCLUSIVE MODE"))
            held.set()
            release.wait(5)
            conn.rollback()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    held.wait(5)
    try:
        wired.customer_says("慢一点也没关系")
        await asyncio.sleep(1.5)  # real time: let the simulator time out and re-send
    finally:
        release.set()
        holder.join()
        engine.dispose()
    assert wired.sim.flush_callbacks()
    deliveries = [d for d in wired.sim.control("GET", "callbacks")["deliveries"] if d["open_kfid"]]
    assert len(deliveries) == 1 and len(deliveries[0]["attempts"]) >= 2  # it was sent again
    # the re-send is a replay of the held one: one event recorded
    assert await wait_for(wired.rt, count(CallbackEvent), 1) == 1
    assert await wait_for(wired.rt, count(Message), 1) == 1
    await asyncio.sleep(0.5)
    async with wired.rt.db.read() as session:
        assert await session.scalar(count(CallbackEvent)) == 1
        assert await session.scalar(count(Message)) == 1
        assert await session.scalar(process_jobs()) == 1
