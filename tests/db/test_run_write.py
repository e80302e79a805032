"""`db.run_write`: a synchronous unit of work as one write transaction (on SQLite, on the writer
thread in one round trip), with commit, rollback, on-commit callbacks and SQLite's one writer."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.db import Database, on_commit
from kefu.jobs.models import Job
from kefu.jobs.queue import add_job, enqueue
from kefu.runtime import Runtime
from tests.jobs import sample_tasks  # noqa: F401 — registers tests.record

pytestmark = pytest.mark.db


def add_two(session: Session, rt: Runtime, key: str) -> tuple[int | None, int]:
    first = add_job(session, "tests.record", {"key": key}, now=rt.clock.now())
    add_job(session, "tests.record", {"key": key + "-2"}, now=rt.clock.now())
    return first, threading.get_ident()


async def count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Job)) or 0)


async def test_the_unit_commits_and_its_result_comes_back(rt: Runtime) -> None:
    job_id, thread = await rt.db.run_write(add_two, rt, "a")
    assert job_id is not None and await count(rt.db) == 2
    assert thread != threading.get_ident()  # SQLite's writer thread, or PostgreSQL's unit threads


async def test_an_error_rolls_the_whole_unit_back_and_reaches_the_caller(rt: Runtime) -> None:
    def half_then_fail(session: Session) -> None:
        add_job(session, "tests.record", {"key": "lost"}, now=rt.clock.now())
        raise LookupError("our bug")

    with pytest.raises(LookupError, match="our bug"):
        await rt.db.run_write(half_then_fail)
    assert await count(rt.db) == 0


async def test_on_commit_callbacks_run_on_the_loop_after_commit_and_never_after_rollback(
    rt: Runtime,
) -> None:
    seen: list[tuple[str, int]] = []
    loop_thread = threading.get_ident()

    def unit(session: Session, name: str, fail: bool) -> None:
        add_job(session, "tests.record", {"key": name}, now=rt.clock.now())
        on_commit(session, lambda: seen.append((name, threading.get_ident())))
        if fail:
            raise ValueError(name)

    await rt.db.run_write(unit, "kept", False)
    with pytest.raises(ValueError):
        await rt.db.run_write(unit, "rolled-back", True)
    assert seen == [("kept", loop_thread)]


@pytest.mark.parametrize("cancels", [1, 3])
async def test_a_cancelled_caller_rolls_back_and_keeps_the_writer_until_the_thread_is_done(
    rt: Runtime, cancels: int
) -> None:
    """As with db.write(), a cancelled caller's transaction is rolled back. Its unit is still
    running on the writer thread, so SQLite's writer is not handed on before it ends, however
    often the caller is cancelled meanwhile."""
    if rt.db.dialect != "sqlite":
        pytest.skip("the writer thread and the in-process writer queue are SQLite's")
    started, finish = threading.Event(), threading.Event()

    def slow(session: Session) -> None:
        add_job(session, "tests.record", {"key": "slow"}, now=rt.clock.now())
        started.set()
        finish.wait(timeout=10)

    order: list[str] = []
    slow_call = asyncio.create_task(rt.db.run_write(slow))
    await asyncio.to_thread(started.wait, 10)

    async def next_writer() -> None:
        async with rt.db.write() as session:
            order.append("next writer")
            await enqueue(session, "tests.record", {"key": "next"}, now=rt.clock.now())

    follower = asyncio.create_task(next_writer())
    for _ in range(cancels):
        slow_call.cancel()
        await asyncio.sleep(0.05)
    assert order == []  # still waiting: the slow unit holds the writer though its caller is gone
    finish.set()
    with pytest.raises(asyncio.CancelledError):
        await slow_call
    await asyncio.wait_for(follower, timeout=10)
    async with rt.db.read() as session:
        keys = (await session.scalars(select(Job.args))).all()
    assert order == ["next writer"] and keys == [{"key": "next"}]  # the slow unit rolled back


async def test_the_database_stays_usable_after_dispose(rt: Runtime) -> None:
    await rt.db.run_write(add_two, rt, "before")
    await rt.db.dispose()
    await rt.db.run_write(add_two, rt, "after")
    await rt.db.dispose()
    assert await count(rt.db) == 4


async def test_a_cancelled_callers_unit_rolls_back_on_either_database(rt: Runtime) -> None:
    """The unit runs on a thread (SQLite's writer, PostgreSQL's unit pool) and cannot be stopped
    half-way; what it wrote is rolled back once its caller is gone."""
    started, finish = threading.Event(), threading.Event()

    def slow(session: Session) -> None:
        add_job(session, "tests.record", {"key": "abandoned"}, now=rt.clock.now())
        started.set()
        finish.wait(timeout=10)

    call = asyncio.create_task(rt.db.run_write(slow))
    await asyncio.to_thread(started.wait, 10)
    call.cancel()
    await asyncio.sleep(0.05)
    finish.set()
    with pytest.raises(asyncio.CancelledError):
        await call
    await rt.db.run_write(add_two, rt, "after")
    assert await count(rt.db) == 2  # only the later unit's two jobs
