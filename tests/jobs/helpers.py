"""Small helpers shared by the job tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from kefu.db import Database
from kefu.jobs.models import Job
from kefu.jobs.queue import enqueue
from kefu.runtime import Runtime


async def add(rt: Runtime, task: str, **options: Any) -> int:
    """Enqueue one job in its own transaction; returns its id (never coalesced here)."""
    args = options.pop("args")
    async with rt.db.write() as session:
        job_id = await enqueue(session, task, args, now=rt.clock.now(), **options)
    assert job_id is not None
    return job_id


async def job(db: Database, job_id: int) -> Job:
    async with db.read() as session:
        found = await session.get(Job, job_id)
    assert found is not None
    return found


async def count_jobs(db: Database) -> int:
    async with db.read() as session:
        return (await session.execute(select(func.count()).select_from(Job))).scalar_one()


async def eventually(check: Callable[[], Any], *, within_s: float = 5.0) -> None:
    """Wait (polling every 10 ms, real time) until `check()` — sync or async — is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
