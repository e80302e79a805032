"""Every state change of a job row, each in its own short write transaction.

A job moves todo → doing (claim) → succeeded | failed | dropped, or back to
todo (retry, lease expired, worker stopping). Changes to a leased job are
guarded by (status='doing', worker_id, attempts) so a worker that lost its
lease never overwrites the outcome of the worker that took the job over.

Two times meet here. run_at, deadline and finished_at are domain time (`now`, from
rt.clock, which tests and the simulator move). A lease (locked_until) is real time:
the database's own clock, read inside the statement that sets or checks it, so every
worker process and host agrees on it and no move of the domain clock expires a live
lease or keeps a dead one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FromClause

from kefu.db import Database, UTCDateTime, database_time, sql_text
from kefu.jobs.models import Job, WorkerHeartbeat
from kefu.jobs.registry import task_leases

# What a job leased without a known task gets (it fails fast anyway).
DEFAULT_LEASE_S = 30.0
ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class Claimed:
    """A job leased by this worker: what running it needs, and the claim that guards its updates."""

    id: int
    task: str
    args: dict[str, Any]
    attempts: int
    max_attempts: int
    deadline: datetime | None
    worker_id: str
    lease_s: float
    lock: str | None = None


# Core statements on the table, built once: the claim and completion run for every job, and
# building an ORM statement (and loading Job objects) cost more than running it.
_JOBS = cast(Table, Job.__table__)
_COL = _JOBS.c


def _runnable(jobs: FromClause) -> Select[Any]:
    """The ids of jobs that are todo, due, and with no earlier job of their lock still todo or
    doing (creation order per lock), oldest first; `now` and `limit` are bound when it runs."""
    earlier = _JOBS.alias("earlier")
    blocked = exists().where(
        earlier.c.lock == jobs.c.lock,
        earlier.c.id < jobs.c.id,
        # Literal values, not an IN of bound ones: those are expanded again at every execution.
        earlier.c.status.in_([sql_text("todo"), sql_text("doing")]),
    )
    return (
        select(jobs.c.id)
        .where(
            # 'todo' written into the SQL: SQLite prepares a statement again at EVERY run when a
            # bound value meets the partial index's `status = 'todo'` (uq_jobs_queueing_lock_todo),
            # which made this claim cost ~6 times what it does with the constant.
            jobs.c.status == sql_text("todo"),
            jobs.c.run_at <= bindparam("now"),
            or_(jobs.c.lock.is_(None), ~blocked),
        )
        .order_by(jobs.c.run_at, jobs.c.id)
        .limit(bindparam("limit", type_=Integer))
    )


@functools.cache
def _claim_statement(dialect: str, of_lock: bool, leases: tuple[tuple[str, float], ...]) -> Update:
    """Lease the runnable jobs (of one lock, `of_lock` bound, when `of_lock`) in ONE statement: each
    to `worker` for its task's lease of database time, or, past its deadline, dropped instead.
    Built once per dialect and set of tasks; PostgreSQL's FOR UPDATE SKIP LOCKED lets workers of
    several processes claim side by side."""
    candidate = _JOBS.alias("candidate")  # its own name: the UPDATE's table would correlate
    runnable = _runnable(candidate)
    if of_lock:
        runnable = runnable.where(candidate.c.lock == bindparam("of_lock"))
    if dialect == "postgresql":
        runnable = runnable.with_for_update(skip_locked=True, of=candidate)
    expired = and_(_COL.deadline.is_not(None), _COL.deadline < bindparam("now"))
    by_lease: dict[float, list[str]] = {}
    for task, lease_s in leases:
        by_lease.setdefault(lease_s, []).append(task)
    # Constants in the SQL (sql_text, literal_column), not bound: binding some thirty fixed values
    # (task names, lease times) cost more at every claim than running the statement.
    lease_until = case(
        # OR of equalities, not IN: an IN list is expanded again at every execution.
        *[
            (or_(*(_COL.task == sql_text(task) for task in tasks)), database_time(dialect, lease_s))
            for lease_s, tasks in by_lease.items()
        ],
        else_=database_time(dialect, DEFAULT_LEASE_S),
    )
    return (
        update(_JOBS)
        .where(_COL.id.in_(runnable))
        .values(
            status=case((expired, sql_text("dropped")), else_=sql_text("doing")),
            attempts=case((expired, _COL.attempts), else_=_COL.attempts + literal_column("1")),
            locked_until=case((expired, None), else_=lease_until),
            worker_id=case((expired, _COL.worker_id), else_=bindparam("worker", type_=String())),
            finished_at=case((expired, bindparam("now")), else_=_COL.finished_at),
        )
        .returning(
            _COL.id,
            _COL.task,
            _COL.args,
            _COL.attempts,
            _COL.max_attempts,
            _COL.deadline,
            _COL.lock,
            _COL.status,
        )
    )


# A guarded final outcome: only while this worker's lease on this attempt holds.
_SETTLE_HELD = (
    update(_JOBS)
    .where(
        _COL.id == bindparam("job_id"),
        _COL.status == "doing",
        _COL.worker_id == bindparam("held_by"),
        _COL.attempts == bindparam("held_attempts"),
    )
    .values(
        status=bindparam("new_status", type_=String()),
        finished_at=bindparam("finished", type_=UTCDateTime()),
        locked_until=None,
        last_error=bindparam("error", type_=Text()),
    )
)


async def claim(db: Database, *, now: datetime, limit: int, worker_id: str) -> tuple[list[Claimed], int]:
    """Lease up to `limit` runnable jobs; jobs past their deadline are dropped instead.

    Returns (claimed jobs, number dropped). SQLite takes the write lock first (BEGIN
    IMMEDIATE), so claims are serialised. Every job passes through here, so it is one
    `run_write` round trip of one statement.
    """
    return await db.run_write(_claim, now=now, limit=limit, worker_id=worker_id)


def claim_next_of_lock(session: Session, finishing: Claimed, *, now: datetime) -> tuple[list[Claimed], int]:
    """In the transaction that completes `finishing`: lease the next runnable job of its lock
    (the oldest open one, if due), for the same worker; (claimed, number dropped past their
    deadline — then the one after may be runnable: the worker's own claim looks)."""
    return _claim(session, now=now, limit=1, worker_id=finishing.worker_id, lock=finishing.lock)


def claim_in(session: Session, *, now: datetime, limit: int, worker_id: str) -> tuple[list[Claimed], int]:
    """`claim` in the caller's transaction (a job's completion, for the slots it frees)."""
    return _claim(session, now=now, limit=limit, worker_id=worker_id)


def _claim(
    session: Session,
    *,
    now: datetime,
    limit: int,
    worker_id: str,
    lock: str | None = None,
) -> tuple[list[Claimed], int]:
    leases = task_leases()
    statement = _claim_statement(session.get_bind().dialect.name, lock is not None, leases)
    parameters: dict[str, Any] = {"now": now, "limit": limit, "worker": worker_id}
    if lock is not None:
        parameters["of_lock"] = lock
    lease_of = dict(leases)
    claimed: list[Claimed] = []
    dropped = 0
    for job in sorted(session.execute(statement, parameters).all(), key=lambda row: row.id):
        if job.status == "dropped":
            # Rare: the statement dropped it; this says why, with the deadline it missed.
            _finish(session, job.id, "dropped", now, f"deadline {job.deadline.isoformat()} passed")
            dropped += 1
            continue
        claimed.append(
            Claimed(
                job.id,
                job.task,
                job.args,
                job.attempts,
                job.max_attempts,
                job.deadline,
                worker_id,
                lease_of.get(job.task, DEFAULT_LEASE_S),
                job.lock,
            )
        )
    return claimed, dropped


def _held(job: Claimed) -> Any:
    return and_(
        Job.id == job.id,
        Job.status == "doing",
        Job.worker_id == job.worker_id,
        Job.attempts == job.attempts,
    )


def _finish(session: Session, job_id: int, status: str, now: datetime, error: str | None) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=status, finished_at=now, locked_until=None, last_error=_clip(error))
        .execution_options(synchronize_session=False)
    )


async def complete(db: Database, job: Claimed, *, status: str, now: datetime, error: str | None) -> bool:
    """Record a final outcome (succeeded / failed / dropped); False if the lease was lost."""
    return await db.run_write(complete_in, job, status=status, now=now, error=error)


def complete_in(session: Session, job: Claimed, *, status: str, now: datetime, error: str | None) -> bool:
    parameters = {
        "job_id": job.id,
        "held_by": job.worker_id,
        "held_attempts": job.attempts,
        "new_status": status,
        "finished": now,
        "error": _clip(error),
    }
    result = session.execute(_SETTLE_HELD, parameters)
    return result.rowcount == 1  # type: ignore[attr-defined]


async def requeue(
    db: Database,
    job: Claimed,
    *,
    run_at: datetime,
    now: datetime,
    error: str | None,
    count_attempt: bool = True,
) -> str | None:
    """Put a leased job back to todo at `run_at`; returns its new status, None if the lease was lost.

    Past its deadline it is dropped instead. `count_attempt=False` gives back the
    attempt taken at claim (RetryLater, worker stopping).
    """
    if job.deadline is not None and run_at > job.deadline:
        reason = f"next try at {run_at.isoformat()} would pass the deadline {job.deadline.isoformat()}"
        done = await complete(db, job, status="dropped", now=now, error=_join(error, reason))
        return "dropped" if done else None
    values: dict[str, Any] = {
        "status": "todo",
        "run_at": run_at,
        "locked_until": None,
        "worker_id": None,
        "last_error": _clip(error),
    }
    if not count_attempt:
        values["attempts"] = Job.attempts - 1
    async with db.write() as session:
        status = await back_to_todo(session, _held(job), values, now=now)
    return status


async def back_to_todo(
    session: AsyncSession, where: Any, values: dict[str, Any], *, now: datetime
) -> str | None:
    """UPDATE … SET status='todo' for one job; 'todo', or 'dropped' when coalesced, or None if no row.

    The partial unique index allows one waiting job per queueing lock: if a new
    job with the same queueing lock is already waiting, it will do this job's
    work, so this one is finished as dropped (superseded) instead.
    """
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(Job).where(where).values(**values).execution_options(synchronize_session=False)
            )
    except IntegrityError:
        superseded = _join(
            values.get("last_error"), "superseded by a waiting job with the same queueing lock"
        )
        result = await session.execute(
            update(Job)
            .where(where)
            .values(status="dropped", finished_at=now, locked_until=None, last_error=_clip(superseded))
            .execution_options(synchronize_session=False)
        )
        return "dropped" if result.rowcount == 1 else None  # type: ignore[attr-defined]
    return "todo" if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def extend_lease(db: Database, job: Claimed) -> bool:
    """Heartbeat: locked_until = database time + lease; False if the lease was lost."""
    async with db.write() as session:
        result = await session.execute(
            update(Job)
            .where(_held(job))
            .values(locked_until=database_time(db.dialect, job.lease_s))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


async def reap_expired(db: Database, *, now: datetime) -> int:
    """Leases past locked_until (database time) → todo at `now` (the attempt stays counted),
    or failed when out of attempts."""
    statement = (
        select(Job)
        .where(Job.status == "doing", Job.locked_until < database_time(db.dialect))
        .order_by(Job.id)
    )
    if db.dialect == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    reaped = 0
    async with db.write() as session:
        for job in (await session.execute(statement)).scalars().all():
            error = f"lease expired on worker {job.worker_id}"
            where = and_(Job.id == job.id, Job.status == "doing", Job.attempts == job.attempts)
            if job.attempts >= job.max_attempts:
                await session.run_sync(_finish, job.id, "failed", now, error)
                reaped += 1
                continue
            values = {
                "status": "todo",
                "run_at": now,
                "locked_until": None,
                "worker_id": None,
                "last_error": error,
            }
            if await back_to_todo(session, where, values, now=now) is not None:
                reaped += 1
    return reaped


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def _clip(error: str | None) -> str | None:
    return error[:ERROR_MAX_CHARS] if error is not None else None


# A heartbeat row older than this belongs to a worker that died without removing it.
HEARTBEAT_PRUNE_AFTER = timedelta(days=1)


async def heartbeat(db: Database, *, worker_id: str, now: datetime) -> None:
    """Record that this worker is alive (one small write every reap interval)."""
    async with db.write() as session:
        row = await session.get(WorkerHeartbeat, worker_id)
        if row is None:
            session.add(WorkerHeartbeat(worker_id=worker_id, started_at=now, seen_at=now))
            await session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - HEARTBEAT_PRUNE_AFTER)
            )
        else:
            row.seen_at = now


async def forget_worker(db: Database, *, worker_id: str) -> None:
    async with db.write() as session:
        await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))
