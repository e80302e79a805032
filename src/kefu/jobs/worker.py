"""The worker: claims runnable jobs, runs them as asyncio tasks, records what happened.

One Worker runs up to `concurrency` jobs at a time (jobs of one lock never run
side by side: only the oldest open job of a lock is runnable). It wakes on
enqueues in this process, on NOTIFY from other processes (PostgreSQL), and
otherwise polls. Domain time (run_at, deadlines, retries) comes from rt.clock, which
tests and the simulator move; leases run on the database's clock (see store), and the
polling, heartbeat and reaping intervals on this process's monotonic time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import random
import secrets
import socket
import traceback
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from kefu.jobs import store, wakeup
from kefu.jobs.current import RunningJob, set_running
from kefu.jobs.registry import JobFailed, RetryLater, TaskSpec, UnknownTask, check_arguments, get_task
from kefu.jobs.store import Claimed
from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger("kefu.jobs")

# Backoff for a job whose task this process does not know (a newer worker may).
UNKNOWN_TASK_BACKOFF = (1.0, 600.0)
MAX_JITTER = 0.25


class Worker:
    def __init__(
        self,
        rt: Runtime,
        *,
        concurrency: int = 4,
        worker_id: str | None = None,
        poll_interval_s: float = 1.0,
        reap_interval_s: float = 5.0,
        shutdown_grace_s: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.rt = rt
        self.concurrency = concurrency
        self.worker_id = (worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[-64:]
        self.poll_interval_s = poll_interval_s
        self.reap_interval_s = reap_interval_s
        self.shutdown_grace_s = shutdown_grace_s
        self._running: dict[asyncio.Task[None], Claimed] = {}
        self._started = 0  # jobs started, claimed or handed over by a finishing job
        self._ended = 0
        self._budget: int | None = None  # run_until_idle's max_jobs
        self._stopping = False
        # Set when a job's end may let the worker's claim find something (a slot freed, a lock's
        # next job unblocked); not when the job handed its lock's next job over as it finished.
        self._claim_wanted = asyncio.Event()
        self._quiet_ends: set[int] = set()
        # Each job's asyncio task starts from this context (not from the job that handed it over).
        self._context = contextvars.copy_context()

    # -- loops ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set; then let running jobs finish (up to the grace)."""
        wake = wakeup.subscribe()
        listener = None
        if self.rt.db.dialect == "postgresql":
            listener = asyncio.create_task(wakeup.listen_postgres(self.rt.db.url, wake))
        log.info("jobs.worker_started", worker_id=self.worker_id, concurrency=self.concurrency)
        self._context = contextvars.copy_context()
        self._stopping = False
        loop = asyncio.get_running_loop()
        next_reap = loop.time()
        try:
            while not stop.is_set():
                if loop.time() >= next_reap:
                    await self._guarded(
                        store.heartbeat(self.rt.db, worker_id=self.worker_id, now=self.rt.clock.now())
                    )
                    await self._guarded(reap(self.rt))
                    next_reap = loop.time() + self.reap_interval_s
                wake.clear()  # before claiming: an enqueue committed after this wakes us again
                self._claim_wanted.clear()
                await self._guarded(self._fill(self.concurrency))
                timeout = max(0.0, min(self.poll_interval_s, next_reap - loop.time()))
                await self._wait_for_any(stop, wake, timeout)
            self._stopping = True  # finishing jobs hand nothing over any more
            await self._drain()
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            wakeup.unsubscribe(wake)
            await self._cancel_running()
            await self._guarded(store.forget_worker(self.rt.db, worker_id=self.worker_id))
            log.info("jobs.worker_stopped", worker_id=self.worker_id)

    async def run_until_idle(self, *, max_jobs: int = 10_000) -> int:
        """Run every job runnable now (per rt.clock), including ones that become runnable meanwhile.

        Returns how many jobs were run (jobs dropped past their deadline are not counted).
        Errors of the queue itself are raised, so tests see them.
        """
        self._context = contextvars.copy_context()
        first = self._started
        self._budget = first + max_jobs
        try:
            while True:
                ended = self._ended
                await self._fill(min(self.concurrency, self._budget - self._started + len(self._running)))
                if not self._running:
                    if self._ended != ended:
                        continue  # a job ended while the claim ran (PostgreSQL): its lock's next may be due
                    return self._started - first
                done, _ = await asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    finished.result()
        finally:
            self._budget = None
            await self._cancel_running()

    # -- claiming ------------------------------------------------------------------------------

    async def _fill(self, capacity: int) -> int:
        """Claim jobs until `capacity` are running or none is runnable; returns how many started."""
        started = 0
        while (free := capacity - len(self._running)) > 0:
            claimed, dropped = await store.claim(
                self.rt.db, now=self.rt.clock.now(), limit=free, worker_id=self.worker_id
            )
            for job in claimed:
                self._start(job)
            started += len(claimed)
            if dropped:
                log.info("jobs.dropped_past_deadline", count=dropped)
            # Dropping a job may unblock the next one of its lock: look again.
            if not dropped and len(claimed) < free:
                break  # nothing more is runnable right now
        return started

    def _start(self, job: Claimed) -> None:
        running = asyncio.create_task(
            self._execute(job), name=f"kefu-job-{job.id}", context=self._context.copy()
        )
        self._started += 1
        self._running[running] = job
        running.add_done_callback(self._forget)

    def _forget(self, finished: asyncio.Task[None]) -> None:
        job = self._running.pop(finished, None)
        self._ended += 1
        if job is None or job.id not in self._quiet_ends:
            self._claim_wanted.set()
        else:
            self._quiet_ends.discard(job.id)
        if not finished.cancelled() and (exc := finished.exception()) is not None and job is not None:
            # The outcome could not be written (database unreachable): the lease expires
            # and the reaper gives the job back, so it is not lost.
            log.error(
                "jobs.record_failed", job_id=job.id, task=job.task, error=f"{type(exc).__name__}: {exc}"
            )

    # -- running one job -----------------------------------------------------------------------

    async def _execute(self, job: Claimed) -> None:
        # Each job runs in its own asyncio task (a copy of the context): whatever it logs carries
        # the job's id and task, and what the task binds (a conversation id) stays with it.
        structlog.contextvars.bind_contextvars(job_id=job.id, task=job.task)
        db, clock = self.rt.db, self.rt.clock
        try:
            spec = get_task(job.task)
        except UnknownTask as exc:
            await self._retry_or_fail(job, str(exc), *UNKNOWN_TASK_BACKOFF)
            return
        try:
            check_arguments(spec, self.rt, job.args)
        except TypeError as exc:
            # Retrying cannot fix arguments that do not fit the task.
            error = f"arguments do not fit task {job.task}: {exc}"
            log.error("jobs.failed", job_id=job.id, task=job.task, error=error)
            await store.complete(db, job, status="failed", now=clock.now(), error=error)
            return

        log.debug("jobs.started", job_id=job.id, task=job.task, attempt=job.attempts)
        running = RunningJob(job, room=self._room)
        set_running(running)  # the task may finish its job in its last write (kefu.jobs.current)
        # The heartbeat starts after lease/3: a timer, not a task, for the many jobs done before.
        heartbeat: list[asyncio.Task[None]] = []
        first_beat = asyncio.get_running_loop().call_later(
            job.lease_s / 3, lambda: heartbeat.append(asyncio.create_task(self._heartbeat(job)))
        )
        try:
            await spec.fn(self.rt, **job.args)
        except BaseException as exc:
            if running.finished is None:
                await self._record_error(job, spec, exc)
            elif not isinstance(exc, asyncio.CancelledError):
                # Its outcome was recorded with its last write: what failed after it is only logged.
                log.error("jobs.error_after_finishing", job_id=job.id, task=job.task, error=repr(exc))
            if isinstance(exc, asyncio.CancelledError):
                await self._give_back(running.next_jobs)
                raise
        else:
            if running.finished is None:
                running.finished = await store.complete(
                    db, job, status="succeeded", now=clock.now(), error=None
                )
            if not running.finished:
                log.warning("jobs.lease_lost", job_id=job.id, task=job.task, worker_id=self.worker_id)
        finally:
            first_beat.cancel()
            for beating in heartbeat:
                beating.cancel()
        for handed_over in running.next_jobs:
            self._start(handed_over)
        if running.finished and running.looked:
            self._quiet_ends.add(job.id)

    async def _give_back(self, jobs: list[Claimed]) -> None:
        """Jobs handed over to a job that was cancelled (the worker stopping): todo again now."""
        now = self.rt.clock.now()
        for job in jobs:
            await store.requeue(
                self.rt.db, job, run_at=now, now=now, error="worker stopped", count_attempt=False
            )

    async def _record_error(self, job: Claimed, spec: TaskSpec, exc: BaseException) -> None:
        db, clock = self.rt.db, self.rt.clock
        if isinstance(exc, JobFailed):
            log.warning("jobs.failed", job_id=job.id, task=job.task, attempt=job.attempts, error=str(exc))
            await store.complete(db, job, status="failed", now=clock.now(), error=str(exc))
        elif isinstance(exc, RetryLater):
            run_at = clock.now() + timedelta(seconds=exc.after_s)
            log.info("jobs.retry_later", job_id=job.id, task=job.task, reason=exc.reason, run_at=run_at)
            await store.requeue(
                db, job, run_at=run_at, now=clock.now(), error=exc.reason, count_attempt=False
            )
        elif isinstance(exc, asyncio.CancelledError):
            # The worker is stopping: give the job back without spending an attempt.
            await store.requeue(
                db, job, run_at=clock.now(), now=clock.now(), error="worker stopped", count_attempt=False
            )
        elif isinstance(exc, Exception):  # any error of the task is recorded and retried with backoff
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "jobs.attempt_failed",
                job_id=job.id,
                task=job.task,
                attempt=job.attempts,
                error=error,
                traceback="".join(traceback.format_exception(exc)),
            )
            await self._retry_or_fail(job, error, spec.backoff_base_s, spec.backoff_cap_s)
        else:
            raise exc  # KeyboardInterrupt, SystemExit: not the task's outcome

    def _room(self) -> int:
        """How many jobs a finishing job may hand this worker: its own slot and the free ones
        (read on the writer thread; jobs handed over by another job finishing at the same
        moment are not counted yet, so the worker may run one or two over `concurrency` for a
        while), none when stopping, and never past a `run_until_idle` budget."""
        if self._stopping:
            return 0
        room = 1 + max(self.concurrency - len(self._running), 0)  # its own slot, whatever the others
        if self._budget is not None:
            room = min(room, self._budget - self._started)
        return max(room, 0)

    async def _retry_or_fail(self, job: Claimed, error: str, base_s: float, cap_s: float) -> None:
        now = self.rt.clock.now()
        if job.attempts >= job.max_attempts:
            log.warning("jobs.failed", job_id=job.id, task=job.task, attempts=job.attempts, error=error)
            await store.complete(self.rt.db, job, status="failed", now=now, error=error)
            return
        delay = backoff_s(job.attempts, base_s, cap_s, random.uniform(0.0, MAX_JITTER))
        status = await store.requeue(
            self.rt.db, job, run_at=now + timedelta(seconds=delay), now=now, error=error
        )
        if status == "dropped":
            log.warning("jobs.dropped", job_id=job.id, task=job.task, error=error)

    async def _heartbeat(self, job: Claimed) -> None:
        """Keep the lease of a long job: from lease/3 on, every lease/3, locked_until = database
        time + lease."""
        while True:
            try:
                held = await store.extend_lease(self.rt.db, job)
            except SQLAlchemyError as exc:
                log.warning("jobs.heartbeat_failed", job_id=job.id, error=str(exc))
                held = True
            if not held:
                log.warning("jobs.lease_lost", job_id=job.id, task=job.task, worker_id=self.worker_id)
                return
            await asyncio.sleep(job.lease_s / 3)

    # -- waiting and stopping ------------------------------------------------------------------

    async def _wait_for_any(self, stop: asyncio.Event, wake: asyncio.Event, within_s: float) -> None:
        """Until stop, a wake-up, a job's end that may let a claim find something, or the poll interval."""
        waiters = {
            asyncio.create_task(stop.wait()),
            asyncio.create_task(wake.wait()),
            asyncio.create_task(self._claim_wanted.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _drain(self) -> None:
        if self._running:
            await asyncio.wait(set(self._running), timeout=self.shutdown_grace_s)

    async def _cancel_running(self) -> None:
        tasks = list(self._running)
        for running in tasks:
            running.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _guarded(self, step: Awaitable[Any]) -> None:
        """A loop step that must not kill the worker: a dead worker would leave `kefu serve`
        answering callbacks with nothing behind them. Database trouble is expected and brief;
        anything else is a bug, logged with its traceback, and the loop goes on."""
        try:
            await step
        except (SQLAlchemyError, OSError) as exc:
            log.error("jobs.worker_error", worker_id=self.worker_id, error=f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("jobs.worker_bug", worker_id=self.worker_id)


def backoff_s(attempts: int, base_s: float, cap_s: float, jitter: float) -> float:
    """min(cap, base·2^(attempts-1)) · (1 + jitter): the delay after the `attempts`-th failure."""
    exponent = min(max(attempts - 1, 0), 62)  # bounded so a large count cannot overflow
    return min(cap_s, base_s * 2.0**exponent) * (1.0 + jitter)


async def reap(rt: Runtime) -> int:
    """Give back jobs whose lease expired (their worker died): todo again, or failed if out of attempts."""
    reaped = await store.reap_expired(rt.db, now=rt.clock.now())
    if reaped:
        log.warning("jobs.reaped", count=reaped)
    return reaped
