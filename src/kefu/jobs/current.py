"""The job the current asyncio task runs, so that its task can finish it in its own last write.

A job's completion used to be a write transaction of its own after the task returned. A task
whose last write transaction is known (a pull's last page, a delivery's outcome, a processed
message) calls `finish_job_in(session, now)` in that transaction instead: the job's guarded
UPDATE (status='doing', worker_id, attempts) commits or rolls back with the task's work, and
the worker skips its own completion. If the lease was lost the UPDATE matches nothing: the
task's work still commits (it is idempotent, like any redo) and the worker logs lease_lost.

In the same transaction the worker takes over the next runnable job of the same lock (a
process job's deliver job, a delivery's feed job) — the claim's own query restricted to that
lock, so creation order per lock holds — and, for the slots still free (its own and the idle
ones), whatever its own claim would take next (a pull's process jobs, say): all run by the
worker right after, without a claim round trip of their own. When every job the transaction
queued was taken so (or waits behind one that was), its wake-up of the workers is taken back:
no worker, here or in another process, looks for what is already running. Nothing is recorded
in memory until the transaction has committed (`on_commit`); a job claimed so but never run
(the process died) is reaped when its lease expires, like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from kefu.db import before_commit, on_commit
from kefu.jobs import store
from kefu.jobs.store import Claimed
from kefu.jobs.wakeup import QUEUED_JOBS, unannounce


@dataclass
class RunningJob:
    job: Claimed
    # How many jobs the worker can start as this one ends (its slot and the free ones; 0 when stopping).
    room: Callable[[], int]
    finished: bool | None = None  # recorded by the task: True succeeded, False lease lost
    next_jobs: list[Claimed] = field(default_factory=list)
    # As it finished, its lock's next job and then any runnable one were looked for (and taken
    # for its slot and the free ones): the worker's own claim would find nothing more now.
    looked: bool = False


_FINISHING = "kefu_job_finishing"
_running: ContextVar[RunningJob | None] = ContextVar("kefu_running_job", default=None)


def set_running(running: RunningJob) -> None:
    """Called by the worker in the job's own asyncio task (its own copy of the context)."""
    _running.set(running)


def current_job() -> Claimed | None:
    """The job this asyncio task runs for the worker (None outside a job)."""
    running = _running.get()
    return running.job if running is not None else None


def finish_job_in(session: Session, now: datetime) -> None:
    """Record the running job as succeeded in this write transaction (nothing outside a job).

    Call it in the task's LAST write transaction, after which the task only returns. The job's
    UPDATE (and the hand-over) runs just before the transaction commits, so it sees every job
    the transaction queued, wherever in it this is called."""
    running = _running.get()
    if running is None or running.finished is not None or session.info.get(_FINISHING):
        return
    session.info[_FINISHING] = True  # once per transaction: a second guarded UPDATE would miss
    before_commit(session, partial(_finish, running, now))


def _finish(running: RunningJob, now: datetime, session: Session) -> None:
    held = store.complete_in(session, running.job, status="succeeded", now=now, error=None)
    taken: list[Claimed] = []
    dropped = 0
    lock, worker_id = running.job.lock, running.job.worker_id
    room = running.room() if held else 0
    if room and lock is not None:
        taken, dropped = store.claim_next_of_lock(session, running.job, now=now)
    queued: list[tuple[int, str | None]] = session.info.get(QUEUED_JOBS, [])
    # Something new may be runnable only if the worker was full (its own claim skipped what was
    # queued meanwhile) or this transaction queued jobs of other locks; else it would look in vain.
    may_find = room == 1 or any(queued_lock != lock for _, queued_lock in queued)
    if room > len(taken) and not dropped and may_find:
        # The slots left: what the worker's own claim would take next, without its round trip.
        more, dropped = store.claim_in(session, now=now, limit=room - len(taken), worker_id=worker_id)
        taken += more
    taken_ids = {job.id for job in taken}
    lock_taken = lock is not None and any(job.lock == lock for job in taken)
    waiting = [queued_lock for job_id, queued_lock in queued if job_id not in taken_ids]
    if taken and all(queued_lock == lock and lock_taken for queued_lock in waiting):
        # Whatever this transaction queued is running or waits behind what is (same lock, later
        # id): waking a worker would only make it claim nothing.
        unannounce(session)
    # Looked for everything runnable (none dropped, which could unblock the next of its lock).
    looked = room > 0 and not dropped

    def committed() -> None:
        running.finished, running.next_jobs, running.looked = held, taken, looked

    on_commit(session, committed)
