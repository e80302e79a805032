"""Enqueueing: a job row written in the caller's transaction, so work and data commit together."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.jobs.models import Job
from kefu.jobs.registry import get_task
from kefu.jobs.wakeup import announce


async def enqueue(
    session: AsyncSession,
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
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The only unique key we do not set ourselves is the partial index on
    # (queueing_lock) WHERE status='todo': a conflict means "coalesced".
    statement = insert(Job).values(**values).on_conflict_do_nothing().returning(Job.id)
    job_id = (await session.execute(statement)).scalar_one_or_none()
    if job_id is not None:
        await announce(session, task)
    return job_id
