"""Operator actions on jobs (CLI, console): see them, and run failed or dropped ones again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db import Database
from kefu.jobs.models import JOB_STATUSES, Job
from kefu.jobs.wakeup import announce

RETRYABLE = ("failed", "dropped")


async def list_jobs(db: Database, *, status: str | None = None, limit: int = 100) -> list[Job]:
    """The newest jobs first, optionally of one status."""
    if status is not None and status not in JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}; one of {', '.join(JOB_STATUSES)}")
    statement = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(Job.status == status)
    async with db.read() as session:
        return list((await session.execute(statement)).scalars().all())


async def retry_job(db: Database, job_id: int, *, now: datetime) -> bool:
    """A failed or dropped job → todo now, with a fresh set of attempts.

    An operator's retry runs the job once more whatever its deadline said. False
    when the job is not failed/dropped, or a waiting job with its queueing lock
    already exists (that one will do the work).
    """
    async with db.write() as session:
        return await retry_in(session, job_id, now=now)


async def retry_in(session: AsyncSession, job_id: int, *, now: datetime) -> bool:
    """`retry_job` in the caller's transaction (the console audits the retry beside it)."""
    return await _retry(session, Job.id == job_id, now=now)


async def retry_failed(db: Database, *, now: datetime) -> int:
    """Retry every failed job; returns how many went back to todo."""
    async with db.write() as session:
        ids = (await session.execute(select(Job.id).where(Job.status == "failed").order_by(Job.id))).scalars()
        retried = 0
        for job_id in ids.all():
            retried += await _retry(session, Job.id == job_id, now=now)
        return retried


async def _retry(session: AsyncSession, where: ColumnElement[bool], *, now: datetime) -> bool:
    values = {
        "status": "todo",
        "run_at": now,
        "attempts": 0,
        "deadline": None,
        "locked_until": None,
        "worker_id": None,
        "finished_at": None,
    }
    try:
        async with session.begin_nested():
            task = (
                await session.execute(
                    update(Job)
                    .where(where, Job.status.in_(RETRYABLE))
                    .values(**values)
                    .returning(Job.task)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
    except IntegrityError:  # the partial unique index: a job with this queueing lock is waiting
        return False
    if task is None:
        return False
    await session.run_sync(announce, task)
    return True
