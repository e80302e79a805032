"""Enqueueing: a job row written in the caller's transaction, so work and data commit together.

`add_job` takes a synchronous Session (for `db.run_write` and `run_sync`); `enqueue` is the
same for an AsyncSession."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.jobs.models import Job
from kefu.jobs.registry import get_task
from kefu.jobs.wakeup import announce

# Built once with bound parameters (compiled once, cached): this runs on every callback batch.
# The only unique key we do not set ourselves is the partial index on (queueing_lock)
# WHERE status='todo', so a conflict means "coalesced".
_JOBS = cast(Table, Job.__table__)
_INSERT = {
    is_postgresql: insert(_JOBS).on_conflict_do_nothing().returning(_JOBS.c.id)
    for is_postgresql, insert in ((True, postgresql.insert), (False, sqlite.insert))
}


async def enqueue(session: AsyncSession, task: str, args: dict[str, Any], **options: Any) -> int | None:
    """`add_job` on an AsyncSession."""
    return await session.run_sync(add_job, task, args, **options)


def add_job(
    session: Session,
    task: str,
    args: dict[str, Any],
    *,
    now: datetime,
    lock: str | None = None,
    queueing_lock: str | None = None,
    run_at: datetime | None = None,
    deadline: datetime | None = None,
    max_attempts: int | None = None,
) -> int | None:
    """Add a job; returns its id, or None when a job with this `queueing_lock` is already waiting.

    `lock`: jobs sharing it run one at a time, in creation order. `queueing_lock`:
    at most one waiting ('todo') job per key; a new one is accepted once the
    waiting one has started. `deadline`: past it the job is dropped, not run.
    Nothing is visible to workers until the caller commits.
    """
    spec = get_task(task)  # fail at the call site on a typo, not later in a worker
    json.dumps(args)  # args must be JSON: a TypeError here names the offending value
    values = {
        "task": task,
        "args": args,
        "status": "todo",
        "lock": lock,
        "queueing_lock": queueing_lock,
        "run_at": run_at or now,
        "deadline": deadline,
        "attempts": 0,
        "max_attempts": max_attempts if max_attempts is not None else spec.max_attempts,
        "created_at": now,
    }
    statement = _INSERT[session.get_bind().dialect.name == "postgresql"]
    job_id = session.execute(statement, values).scalar_one_or_none()
    if job_id is not None:
        announce(session, task, lock, job_id)
    return job_id
