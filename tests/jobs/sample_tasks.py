"""Tasks the job tests run. In-process tasks record into CALLS; subprocess ones append to a file."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from kefu.jobs.current import current_job, finish_job_in
from kefu.jobs.models import Job
from kefu.jobs.queue import add_job, enqueue
from kefu.jobs.registry import JobFailed, RetryLater, task
from kefu.runtime import Runtime

CALLS: list[str] = []
FAILURES: dict[str, int] = {}  # key → how many times it has failed so far
HEALED: set[str] = set()  # keys of tests.broken that succeed from now on
BARRIERS: dict[str, asyncio.Barrier] = {}
GATES: dict[str, asyncio.Event] = {}
STARTED: dict[str, asyncio.Event] = {}


FOLLOW_UPS: dict[str, tuple[str, str | None]] = {}  # key → its follow-up's (status, worker) at commit


def reset() -> None:
    THREAD_STARTED.clear()
    THREAD_GATE.clear()
    for state in (CALLS, FAILURES, HEALED, BARRIERS, GATES, STARTED, FOLLOW_UPS):
        state.clear()


@task("tests.record")
async def record(rt: Runtime, *, key: str) -> None:
    CALLS.append(key)


@task("tests.flaky", max_attempts=5, backoff_base_s=1.0)
async def flaky(rt: Runtime, *, key: str, failures: int) -> None:
    if FAILURES.get(key, 0) < failures:
        FAILURES[key] = FAILURES.get(key, 0) + 1
        raise RuntimeError(f"flaky {key} failure {FAILURES[key]}")
    CALLS.append(key)


@task("tests.broken", max_attempts=5, backoff_base_s=1.0, backoff_cap_s=4.0)
async def broken(rt: Runtime, *, key: str) -> None:
    if key not in HEALED:
        raise RuntimeError(f"broken {key}")
    CALLS.append(key)


@task("tests.slow_retry", backoff_base_s=60.0)
async def slow_retry(rt: Runtime, *, key: str) -> None:
    raise RuntimeError(f"slow {key}")


@task("tests.give_up")
async def give_up(rt: Runtime, *, key: str) -> None:
    raise JobFailed(f"customer left ({key})")


@task("tests.later")
async def later(rt: Runtime, *, key: str) -> None:
    if key not in CALLS:
        CALLS.append(key)
        raise RetryLater(30, "rate limited")
    CALLS.append(f"{key}:again")


@task("tests.meet")
async def meet(rt: Runtime, *, key: str, group: str) -> None:
    """Passes only if the other job of `group` runs at the same time."""
    CALLS.append(key)
    await asyncio.wait_for(BARRIERS[group].wait(), timeout=5)


@task("tests.hold", lease_s=30.0)
async def hold(rt: Runtime, *, key: str) -> None:
    """Runs until the test opens its gate."""
    STARTED.setdefault(key, asyncio.Event()).set()
    await GATES.setdefault(key, asyncio.Event()).wait()
    CALLS.append(key)


# Leases short enough for a test to let them run out in real time.
@task("tests.brief", lease_s=1.0)
async def brief(rt: Runtime, *, key: str) -> None:
    CALLS.append(key)


@task("tests.brief_once", lease_s=1.0, max_attempts=1)
async def brief_once(rt: Runtime, *, key: str) -> None:
    CALLS.append(key)


@task("tests.short_lease", lease_s=0.3)
async def short_lease(rt: Runtime, *, key: str) -> None:
    STARTED.setdefault(key, asyncio.Event()).set()
    await GATES.setdefault(key, asyncio.Event()).wait()


@task("tests.requeue_self")
async def requeue_self(rt: Runtime, *, key: str, fail: bool) -> None:
    """While running, enqueue a successor under the same queueing lock; maybe fail afterwards."""
    async with rt.db.write() as session:
        new_id = await enqueue(
            session, "tests.record", {"key": "successor"}, now=rt.clock.now(), queueing_lock=key
        )
    CALLS.append(f"successor={new_id}")
    if fail:
        raise RuntimeError("failed after enqueueing a successor")


# -- tasks run by worker subprocesses: outcomes go to a file shared with the test --------------


# 6 s: after the kill, the test's own steps (wait for the process, one worker round, one reap)
# must fit in what is left of the lease; on a loaded CI machine they once took over 2 s.
@task("tests.block", lease_s=6.0)
async def block(rt: Runtime, *, path: str) -> None:
    """Append our pid; in a process started with KEFU_TEST_BLOCK=1, never return (the
    heartbeat keeps the lease while the process lives)."""
    _append(path, str(os.getpid()))
    if os.environ.get("KEFU_TEST_BLOCK") == "1":
        await asyncio.Event().wait()


# For a worker on another thread's event loop (an app in a ThreadedServer), which asyncio events
# of the test's loop cannot reach.
THREAD_STARTED: list[str] = []
THREAD_GATE = threading.Event()


@task("tests.thread_gated")
async def thread_gated(rt: Runtime, *, key: str) -> None:
    """Note `key`, then wait until the test sets THREAD_GATE."""
    THREAD_STARTED.append(key)
    await asyncio.to_thread(THREAD_GATE.wait, 30)


@task("tests.count")
async def count(rt: Runtime, *, path: str, key: str, seconds: float = 0.002) -> None:
    _append(path, f"{key} {os.getpid()}")
    await asyncio.sleep(seconds)


def _append(path: str, line: str) -> None:
    # One write() per line on an O_APPEND file: lines of concurrent processes never interleave.
    with Path(path).open("a") as handle:
        handle.write(line + "\n")


@task("tests.chain")
async def chain(rt: Runtime, *, key: str, then: str, lock: str, taken_over: bool = False) -> None:
    """Queues tests.record `then` on `lock` and finishes its own job in that one transaction;
    `taken_over`: another worker took the job over first (its lease was lost)."""
    CALLS.append(key)
    job = current_job()
    assert job is not None
    follow_up = await rt.db.run_write(_queue_and_finish, job.id, then, lock, taken_over, rt.clock.now())
    async with rt.db.read() as session:
        row = await session.get(Job, follow_up)
        assert row is not None
        FOLLOW_UPS[key] = (row.status, row.worker_id)


def _queue_and_finish(
    session: Session, job_id: int, then: str, lock: str, taken_over: bool, now: datetime
) -> int | None:
    if taken_over:
        session.execute(
            update(Job).where(Job.id == job_id).values(worker_id="another", attempts=Job.attempts + 1)
        )
    finish_job_in(session, now)  # called before the queueing: it runs just before the commit
    return add_job(session, "tests.record", {"key": then}, now=now, lock=lock)


@task("tests.fan_out")
async def fan_out(rt: Runtime, *, key: str, then: list[str], locks: list[str]) -> None:
    """Queues tests.record `then[i]` on `locks[i]` and finishes its own job in that one
    transaction; FOLLOW_UPS[then[i]] is each follow-up's (status, worker) as it committed."""
    CALLS.append(key)
    job = current_job()
    assert job is not None
    follow_ups = await rt.db.run_write(_fan_out_and_finish, then, locks, rt.clock.now())
    async with rt.db.read() as session:
        for then_key, follow_up in zip(then, follow_ups, strict=True):
            row = await session.get(Job, follow_up)
            assert row is not None
            FOLLOW_UPS[then_key] = (row.status, row.worker_id)


def _fan_out_and_finish(
    session: Session, then: list[str], locks: list[str], now: datetime
) -> list[int | None]:
    finish_job_in(session, now)
    return [
        add_job(session, "tests.record", {"key": then_key}, now=now, lock=lock)
        for then_key, lock in zip(then, locks, strict=True)
    ]
