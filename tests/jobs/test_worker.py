"""The worker: per-lock creation order, concurrency, deadlines, backoff, outcomes, leases, wake-ups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.jobs import store
from kefu.jobs.queue import enqueue
from kefu.jobs.service import retry_job
from kefu.jobs.worker import Worker, reap
from kefu.runtime import Runtime
from tests.jobs import sample_tasks
from tests.jobs.helpers import add, eventually, job

pytestmark = pytest.mark.db


async def test_jobs_sharing_a_lock_run_one_at_a_time_in_creation_order(rt: Runtime) -> None:
    for i in range(5):
        await add(rt, "tests.record", args={"key": f"c1-{i}"}, lock="conversation:1")
    await add(rt, "tests.record", args={"key": "free"})
    assert await Worker(rt, concurrency=4).run_until_idle() == 6
    assert [key for key in sample_tasks.CALLS if key != "free"] == [f"c1-{i}" for i in range(5)]


async def test_a_task_finishes_its_job_in_its_last_write_and_is_handed_the_next_of_its_lock(
    rt: Runtime,
) -> None:
    first = await add(rt, "tests.chain", args={"key": "A", "then": "B", "lock": "L"}, lock="L")
    worker = Worker(rt)
    assert await worker.run_until_idle() == 2
    assert sample_tasks.CALLS == ["A", "B"]
    # B was claimed for this worker in A's own transaction, before any claim of the worker's.
    assert sample_tasks.FOLLOW_UPS["A"] == ("doing", worker.worker_id)
    done = await job(rt.db, first)
    assert (done.status, done.attempts, done.locked_until) == ("succeeded", 1, None)


async def test_the_job_handed_over_is_the_oldest_open_one_of_the_lock(rt: Runtime) -> None:
    await add(rt, "tests.chain", args={"key": "A", "then": "B", "lock": "L"}, lock="L")
    await add(rt, "tests.record", args={"key": "X"}, lock="L")  # before A's follow-up B
    assert await Worker(rt).run_until_idle() == 3
    assert sample_tasks.CALLS == ["A", "X", "B"]
    assert sample_tasks.FOLLOW_UPS["A"][0] == "todo"  # X was handed over, B waited behind it


async def test_a_finishing_job_takes_runnable_jobs_for_its_slot_and_the_free_ones_in_its_last_write(
    rt: Runtime,
) -> None:
    # A pull's last page queues process jobs of several conversations: the worker runs as many
    # as it has slots for (the pull's own and the free ones) without a claim of its own.
    await add(rt, "tests.fan_out", args={"key": "pull", "then": ["a", "b", "c"], "locks": ["A", "B", "C"]})
    worker = Worker(rt, concurrency=2)
    assert await worker.run_until_idle() == 4
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c", "pull"]
    taken = {
        key: state for key, state in sample_tasks.FOLLOW_UPS.items() if state == ("doing", worker.worker_id)
    }
    assert sorted(taken) == ["a", "b"]  # two slots; "c" waited for a claim
    assert sample_tasks.FOLLOW_UPS["c"] == ("todo", None)


async def test_a_job_queued_behind_an_open_one_of_its_lock_is_not_handed_over(rt: Runtime) -> None:
    await add(
        rt, "tests.record", args={"key": "earlier"}, lock="A", run_at=rt.clock.now() + timedelta(hours=1)
    )
    await add(rt, "tests.fan_out", args={"key": "pull", "then": ["a", "b"], "locks": ["A", "B"]})
    assert await Worker(rt, concurrency=4).run_until_idle() == 2
    assert sample_tasks.CALLS == ["pull", "b"]
    assert sample_tasks.FOLLOW_UPS["a"] == ("todo", None)  # creation order per lock holds


async def test_a_task_that_lost_its_lease_commits_its_work_but_not_its_jobs_outcome(rt: Runtime) -> None:
    args = {"key": "A", "then": "B", "lock": "L", "taken_over": True}
    first = await add(rt, "tests.chain", args=args, lock="L")
    assert await Worker(rt).run_until_idle() == 1  # B waits behind A, now another worker's
    assert sample_tasks.FOLLOW_UPS["A"] == ("todo", None)  # queued (the work), not handed over
    taken = await job(rt.db, first)
    assert (taken.status, taken.worker_id, taken.attempts) == ("doing", "another", 2)


async def test_a_job_waiting_for_its_retry_blocks_the_later_jobs_of_its_lock(rt: Runtime) -> None:
    first = await add(rt, "tests.flaky", args={"key": "A", "failures": 1}, lock="L")
    second = await add(rt, "tests.record", args={"key": "B"}, lock="L")
    await add(rt, "tests.record", args={"key": "C"}, lock="M")
    worker = Worker(rt)

    assert await worker.run_until_idle() == 2  # A fails, C runs; B waits behind A
    assert sample_tasks.CALLS == ["C"]
    failed_once = await job(rt.db, first)
    assert (failed_once.status, failed_once.attempts) == ("todo", 1)
    assert (await job(rt.db, second)).status == "todo"

    rt.clock.set(failed_once.run_at)
    assert await worker.run_until_idle() == 2
    assert sample_tasks.CALLS == ["C", "A", "B"]
    assert (await job(rt.db, second)).status == "succeeded"


async def test_finished_jobs_do_not_block_their_lock(rt: Runtime) -> None:
    await add(rt, "tests.give_up", args={"key": "1"}, lock="L")  # → failed
    await add(rt, "tests.record", args={"key": "2"}, lock="L", deadline=rt.clock.now())  # → dropped
    await add(rt, "tests.record", args={"key": "3"}, lock="L")
    rt.clock.advance(1)
    assert await Worker(rt).run_until_idle() == 2
    assert sample_tasks.CALLS == ["3"]


async def test_the_claim_looks_up_open_jobs_of_a_lock_by_index_not_through_its_history(
    rt: Runtime,
) -> None:
    """The "earlier open job of this lock?" check seeks (lock, status, id): a busy account's sync
    lock gathers thousands of finished jobs, and walking them made each claim slower."""
    if rt.db.dialect != "sqlite":
        pytest.skip("the plan is SQLite's")
    # The claim leases what this subquery finds (store._claim_statement).
    runnable = store._runnable(store._JOBS.alias("candidate")).params(now=rt.clock.now(), limit=4)
    sql = runnable.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    async with rt.db.read() as session:
        connection = await session.connection()
        plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        details = [row[-1] for row in plan.all()]
    assert any("ix_jobs_lock_status (lock=? AND status=? AND id<?)" in d for d in details), details


async def test_jobs_of_different_locks_run_at_the_same_time(rt: Runtime) -> None:
    sample_tasks.BARRIERS["pair"] = asyncio.Barrier(2)
    one = await add(rt, "tests.meet", args={"key": "x", "group": "pair"}, lock="conversation:x")
    two = await add(rt, "tests.meet", args={"key": "y", "group": "pair"}, lock="conversation:y")
    # Each job passes only when the other is running at the same moment.
    assert await Worker(rt, concurrency=2).run_until_idle() == 2
    assert [(await job(rt.db, i)).status for i in (one, two)] == ["succeeded", "succeeded"]


async def test_one_claim_leases_each_job_for_its_tasks_lease_and_drops_the_late_one(rt: Runtime) -> None:
    now = rt.clock.now()
    brief = await add(rt, "tests.brief", args={"key": "b"})
    hold = await add(rt, "tests.hold", args={"key": "h"})
    late = await add(rt, "tests.record", args={"key": "l"}, deadline=now - timedelta(seconds=1))
    claimed, dropped = await store.claim(rt.db, now=now, limit=10, worker_id="w1")
    assert dropped == 1 and [c.id for c in claimed] == [brief, hold]
    assert [(c.attempts, c.lease_s, c.worker_id) for c in claimed] == [(1, 1.0, "w1"), (1, 30.0, "w1")]
    rows = {i: await job(rt.db, i) for i in (brief, hold, late)}
    assert [rows[i].status for i in (brief, hold, late)] == ["doing", "doing", "dropped"]
    assert (rows[late].attempts, rows[late].worker_id, rows[late].locked_until) == (0, None, None)
    # Leases are the database's time: compare their lengths, not with the domain clock.
    brief_until, hold_until = rows[brief].locked_until, rows[hold].locked_until
    assert brief_until is not None and hold_until is not None
    assert 28.0 < (hold_until - brief_until).total_seconds() < 30.0


async def test_a_job_past_its_deadline_is_dropped_not_run(rt: Runtime) -> None:
    now = rt.clock.now()
    late = await add(rt, "tests.record", args={"key": "welcome"}, deadline=now + timedelta(seconds=20))
    rt.clock.advance(21)
    assert await Worker(rt).run_until_idle() == 0
    row = await job(rt.db, late)
    assert (row.status, row.attempts, row.finished_at) == ("dropped", 0, rt.clock.now())
    assert "deadline" in (row.last_error or "")
    assert sample_tasks.CALLS == []

    in_time = await add(
        rt, "tests.record", args={"key": "ok"}, deadline=rt.clock.now() + timedelta(seconds=20)
    )
    assert await Worker(rt).run_until_idle() == 1
    assert (await job(rt.db, in_time)).status == "succeeded"


async def test_a_retry_that_would_pass_the_deadline_drops_the_job(rt: Runtime) -> None:
    # slow_retry backs off 60 s at least: past the 30 s deadline.
    doomed = await add(
        rt, "tests.slow_retry", args={"key": "code"}, deadline=rt.clock.now() + timedelta(seconds=30)
    )
    assert await Worker(rt).run_until_idle() == 1
    row = await job(rt.db, doomed)
    assert (row.status, row.attempts) == ("dropped", 1)
    assert "RuntimeError: slow code" in (row.last_error or "")
    assert "deadline" in (row.last_error or "")


async def test_backoff_grows_with_jitter_until_failed_then_retry_job_runs_it_again(rt: Runtime) -> None:
    broken = await add(rt, "tests.broken", args={"key": "k"})  # 5 attempts, base 1 s, cap 4 s
    worker = Worker(rt)
    for attempt in range(1, 5):
        assert await worker.run_until_idle() == 1
        row = await job(rt.db, broken)
        assert (row.status, row.attempts, row.last_error) == ("todo", attempt, "RuntimeError: broken k")
        delay = (row.run_at - rt.clock.now()).total_seconds()
        expected = min(4.0, 2.0 ** (attempt - 1))
        assert expected <= delay <= expected * 1.25 + 1e-6
        # Not a moment early …
        rt.clock.set(row.run_at - timedelta(milliseconds=1))
        assert await worker.run_until_idle() == 0
        rt.clock.set(row.run_at)  # … and runnable once the clock reaches run_at.

    assert await worker.run_until_idle() == 1
    row = await job(rt.db, broken)
    assert (row.status, row.attempts, row.finished_at) == ("failed", 5, rt.clock.now())
    assert row.last_error == "RuntimeError: broken k"
    rt.clock.advance(3600)
    assert await worker.run_until_idle() == 0

    sample_tasks.HEALED.add("k")
    assert await retry_job(rt.db, broken, now=rt.clock.now())
    row = await job(rt.db, broken)
    assert (row.status, row.attempts, row.finished_at) == ("todo", 0, None)
    assert await worker.run_until_idle() == 1
    assert (await job(rt.db, broken)).status == "succeeded"
    assert sample_tasks.CALLS == ["k"]
    assert not await retry_job(rt.db, broken, now=rt.clock.now())  # succeeded jobs stay put


async def test_job_failed_ends_the_job_without_retries(rt: Runtime) -> None:
    gone = await add(rt, "tests.give_up", args={"key": "c9"})
    assert await Worker(rt).run_until_idle() == 1
    row = await job(rt.db, gone)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "customer left (c9)")


async def test_retry_later_waits_the_chosen_delay_without_spending_an_attempt(rt: Runtime) -> None:
    limited = await add(rt, "tests.later", args={"key": "send"})
    worker = Worker(rt)
    assert await worker.run_until_idle() == 1
    row = await job(rt.db, limited)
    assert (row.status, row.attempts, row.last_error) == ("todo", 0, "rate limited")
    assert row.run_at == rt.clock.now() + timedelta(seconds=30)
    rt.clock.advance(29)
    assert await worker.run_until_idle() == 0
    rt.clock.advance(1)
    assert await worker.run_until_idle() == 1
    row = await job(rt.db, limited)
    assert (row.status, row.attempts) == ("succeeded", 1)
    assert sample_tasks.CALLS == ["send", "send:again"]


async def test_arguments_that_do_not_fit_the_task_fail_at_once(rt: Runtime) -> None:
    wrong = await add(rt, "tests.record", args={"conversation": 1})
    assert await Worker(rt).run_until_idle() == 1
    row = await job(rt.db, wrong)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "arguments do not fit task tests.record" in (row.last_error or "")


def real_now() -> datetime:
    """The database runs on this host, so its clock is this one (the fixture's is frozen in 2026-11)."""
    return datetime.now(UTC)


async def test_a_worker_that_lost_its_lease_does_not_overwrite_the_new_owner(rt: Runtime) -> None:
    held = await add(rt, "tests.brief", args={"key": "b"})  # lease 1 s
    # "first" claims the job, then stalls (its process paused): no heartbeat, no outcome yet.
    [first], _ = await store.claim(rt.db, now=rt.clock.now(), limit=1, worker_id="first")
    row = await job(rt.db, held)
    assert (row.status, row.worker_id) == ("doing", "first")
    assert row.locked_until is not None
    assert abs(row.locked_until - (real_now() + timedelta(seconds=1))) < timedelta(seconds=5)

    assert await reap(rt) == 0  # lease still valid
    await eventually(lambda: reap(rt), within_s=10)  # after a second of real time
    row = await job(rt.db, held)
    assert (row.status, row.attempts, row.worker_id) == ("todo", 1, None)
    assert row.last_error == "lease expired on worker first"

    # Another worker takes the job over and finishes it; then the first one wakes up.
    assert await Worker(rt, worker_id="second").run_until_idle() == 1
    assert not await store.extend_lease(rt.db, first)
    assert not await store.complete(rt.db, first, status="failed", now=rt.clock.now(), error="late")
    row = await job(rt.db, held)
    assert (row.status, row.attempts, row.worker_id) == ("succeeded", 2, "second")
    assert sample_tasks.CALLS == ["b"]


async def test_a_dead_lease_out_of_attempts_fails_even_with_the_domain_clock_moved_back(rt: Runtime) -> None:
    held = await add(rt, "tests.brief_once", args={"key": "b"})  # lease 1 s, max_attempts 1
    await store.claim(rt.db, now=rt.clock.now(), limit=1, worker_id="dead")  # then it died
    rt.clock.advance(timedelta(days=-1))  # would keep the lease a day longer on the domain clock
    await eventually(lambda: reap(rt), within_s=10)
    row = await job(rt.db, held)
    assert (row.status, row.last_error) == ("failed", "lease expired on worker dead")
    assert await Worker(rt).run_until_idle() == 0


async def test_a_live_lease_is_kept_on_real_time_through_domain_clock_jumps(rt: Runtime) -> None:
    held = await add(rt, "tests.short_lease", args={"key": "s"})  # lease 0.3 s: heartbeat every 0.1 s
    running = asyncio.create_task(Worker(rt).run_until_idle())
    await eventually(lambda: "s" in sample_tasks.STARTED)
    claimed = (await job(rt.db, held)).locked_until
    assert claimed is not None
    for hours in (6, -30, 48):  # hours of domain time pass or unwind in an instant
        rt.clock.advance(timedelta(hours=hours))
        for _ in range(3):  # and a whole lease of real time passes after each jump
            await asyncio.sleep(0.15)
            assert await reap(rt) == 0
    row = await job(rt.db, held)
    assert row.locked_until is not None and row.locked_until > claimed  # the heartbeat moved it
    assert abs(row.locked_until - real_now()) < timedelta(seconds=5)
    sample_tasks.GATES["s"].set()
    assert await running == 1
    row = await job(rt.db, held)
    assert (row.status, row.attempts) == ("succeeded", 1)


async def test_a_running_worker_wakes_on_enqueue_and_stops_cleanly(rt: Runtime) -> None:
    stop = asyncio.Event()
    # Polling is slow here, so only the wake-up can make the job run promptly.
    worker = Worker(rt, poll_interval_s=60, reap_interval_s=60, shutdown_grace_s=0.05)
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.2)  # let the worker reach its idle wait
    await add(rt, "tests.record", args={"key": "woken"})
    await eventually(lambda: sample_tasks.CALLS == ["woken"], within_s=5)

    # Stopping gives a job that does not finish within the grace back, attempt not counted.
    held = await add(rt, "tests.hold", args={"key": "h"})
    await eventually(lambda: "h" in sample_tasks.STARTED, within_s=3)
    stop.set()
    await asyncio.wait_for(running, timeout=3)
    row = await job(rt.db, held)
    assert (row.status, row.attempts, row.worker_id, row.last_error) == ("todo", 0, None, "worker stopped")


async def test_postgres_workers_wake_on_notify_from_other_sessions(rt: Runtime) -> None:
    if rt.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    stop = asyncio.Event()
    running = asyncio.create_task(Worker(rt, poll_interval_s=60, reap_interval_s=60).run(stop))
    await asyncio.sleep(0.3)  # the LISTEN connection is up
    # A plain session: its on_commit callbacks never run, so only NOTIFY can wake the worker,
    # as it does for a worker in another process.
    async with AsyncSession(rt.db.engine) as session, session.begin():
        await enqueue(session, "tests.record", {"key": "notified"}, now=rt.clock.now())
    await eventually(lambda: sample_tasks.CALLS == ["notified"], within_s=5)
    stop.set()
    await running


def test_a_killed_process_holds_no_job_for_more_than_a_minute() -> None:
    """A `kill -9` leaves its jobs leased until the lease runs out, and with them their lock: the
    conversation, or the account's pulls. The heartbeat renews a running job's lease every
    lease/3, so leases can be short. At 300 s (600 s for a pull) the chaos run's backlog did not
    drain within minutes of a kill (benchmarks/chaos.py)."""
    import kefu.registry  # noqa: F401 — every task of Kefu registered
    from kefu.jobs.registry import _TASKS

    kefu_tasks = {name: spec.lease_s for name, spec in _TASKS.items() if not name.startswith("tests.")}
    assert kefu_tasks and max(kefu_tasks.values()) <= 60, kefu_tasks
    assert store.DEFAULT_LEASE_S <= 60


async def test_kefu_serves_own_worker_runs_worker_concurrency_jobs_at_once(rt: Runtime) -> None:
    """KEFU_WORKER_CONCURRENCY sets how many jobs the worker inside `kefu serve` runs at once."""
    from kefu.app import create_app
    from kefu.threaded_server import ThreadedServer

    ids = [await add(rt, "tests.thread_gated", args={"key": f"j{i}"}) for i in range(5)]
    changed = rt.settings.model_copy(update={"worker_concurrency": 2, "poll_interval_s": 3600})
    with ThreadedServer(create_app(settings=changed, clock=rt.clock, run_worker=True)):
        # The app's start-up (schema check, the AI's load) comes first: on a loaded CI host it
        # once took longer than the 5 s a claim is given.
        await eventually(lambda: len(sample_tasks.THREAD_STARTED) == 2, within_s=30)
        # Its claims take jobs up to its free slots in one statement: two doing, the rest waiting.
        assert sorted([(await job(rt.db, i)).status for i in ids]) == [
            "doing",
            "doing",
            "todo",
            "todo",
            "todo",
        ]
        sample_tasks.THREAD_GATE.set()
        await eventually(lambda: len(sample_tasks.THREAD_STARTED) == 5)
