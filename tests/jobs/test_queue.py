"""Enqueueing: defaults, coalescing by queueing lock, the caller's transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kefu.jobs.queue import enqueue
from kefu.jobs.registry import UnknownTask
from kefu.jobs.worker import Worker
from kefu.runtime import Runtime
from tests.jobs import sample_tasks
from tests.jobs.helpers import add, count_jobs, job

pytestmark = pytest.mark.db


async def test_enqueue_writes_a_waiting_job_with_the_task_defaults(rt: Runtime) -> None:
    now = rt.clock.now()
    job_id = await add(rt, "tests.flaky", args={"key": "a", "failures": 0}, lock="conversation:1")
    row = await job(rt.db, job_id)
    assert (row.task, row.args, row.status, row.lock) == (
        "tests.flaky",
        {"key": "a", "failures": 0},
        "todo",
        "conversation:1",
    )
    assert (row.run_at, row.created_at, row.attempts, row.max_attempts) == (now, now, 0, 5)
    assert row.deadline is None and row.locked_until is None

    later = now + timedelta(minutes=5)
    other = await add(
        rt,
        "tests.record",
        args={"key": "b"},
        run_at=later,
        deadline=later + timedelta(seconds=20),
        max_attempts=2,
    )
    row = await job(rt.db, other)
    assert (row.run_at, row.deadline, row.max_attempts) == (later, later + timedelta(seconds=20), 2)


async def test_enqueue_refuses_unknown_tasks_and_non_json_args(rt: Runtime) -> None:
    async with rt.db.write() as session:
        with pytest.raises(UnknownTask):
            await enqueue(session, "tests.no_such_task", {}, now=rt.clock.now())
        with pytest.raises(TypeError):
            await enqueue(session, "tests.record", {"key": object()}, now=rt.clock.now())
    assert await count_jobs(rt.db) == 0


async def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(rt: Runtime) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with rt.db.write() as session:
            assert await enqueue(session, "tests.record", {"key": "x"}, now=rt.clock.now()) is not None
            raise Abort
    assert await count_jobs(rt.db) == 0
    assert await Worker(rt).run_until_idle() == 0
    assert sample_tasks.CALLS == []


async def test_queueing_lock_keeps_one_waiting_job(rt: Runtime) -> None:
    now = rt.clock.now()
    async with rt.db.write() as session:
        first = await enqueue(
            session, "tests.requeue_self", {"key": "q", "fail": False}, now=now, queueing_lock="q"
        )
        assert first is not None
        # Same transaction or a later one: coalesced while the first is still waiting.
        assert await enqueue(session, "tests.record", {"key": "dup"}, now=now, queueing_lock="q") is None
    async with rt.db.write() as session:
        assert await enqueue(session, "tests.record", {"key": "dup"}, now=now, queueing_lock="q") is None
        other = await enqueue(session, "tests.record", {"key": "other"}, now=now, queueing_lock="r")
        assert other is not None
    assert await count_jobs(rt.db) == 2

    # Once the first is running, a new waiting job is accepted (the task enqueues it).
    await Worker(rt, concurrency=1).run_until_idle()
    successor = int(sample_tasks.CALLS[0].removeprefix("successor="))
    assert successor > other
    assert "successor" in sample_tasks.CALLS  # and it ran too
    assert (await job(rt.db, first)).status == "succeeded"
    assert (await job(rt.db, successor)).status == "succeeded"


async def test_concurrent_enqueues_with_one_queueing_lock_keep_one(rt: Runtime) -> None:
    async def enqueue_in_own_transaction(key: str) -> int | None:
        async with rt.db.write() as session:
            return await enqueue(
                session, "tests.record", {"key": key}, now=rt.clock.now(), queueing_lock="sync:kf1"
            )

    results = await asyncio.gather(*(enqueue_in_own_transaction(f"k{i}") for i in range(5)))
    assert sum(result is not None for result in results) == 1
    assert await count_jobs(rt.db) == 1


async def test_a_retry_superseded_by_a_waiting_job_is_dropped(rt: Runtime) -> None:
    first = await add(rt, "tests.requeue_self", args={"key": "q", "fail": True}, queueing_lock="q")
    worker = Worker(rt, concurrency=1)
    assert await worker.run_until_idle() == 2  # the failing one, then its waiting successor
    row = await job(rt.db, first)
    assert row.status == "dropped"
    assert "RuntimeError: failed after enqueueing a successor" in (row.last_error or "")
    assert "superseded" in (row.last_error or "")
    assert sample_tasks.CALLS[-1] == "successor"
