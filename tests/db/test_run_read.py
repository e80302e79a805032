"""`db.run_read`: a synchronous read as one transaction (on SQLite, on the writer thread in one
round trip, without waiting for SQLite's one writer)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.jobs.models import Job
from kefu.jobs.queue import add_job, enqueue
from kefu.runtime import Runtime
from tests.jobs import sample_tasks  # noqa: F401 — registers tests.record

pytestmark = pytest.mark.db


def jobs(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).order_by(Job.id)))


def job_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Job)) or 0)


async def test_the_read_sees_what_is_committed_and_its_rows_come_back_loaded(rt: Runtime) -> None:
    def add(session: Session) -> None:
        add_job(session, "tests.record", {"key": "a"}, now=rt.clock.now())
        add_job(session, "tests.record", {"key": "b"}, now=rt.clock.now())

    await rt.db.run_write(add)
    rows = await rt.db.run_read(jobs)
    assert [row.args["key"] for row in rows] == ["a", "b"]  # attributes readable after the unit


async def test_a_read_neither_waits_for_an_open_write_nor_sees_it(rt: Runtime) -> None:
    """A write transaction held open (SQLite: the writer queue and the write lock taken) does
    not hold up a read unit, which sees only what is committed."""
    async with rt.db.write() as session:
        await enqueue(session, "tests.record", {"key": "open"}, now=rt.clock.now())
        await session.flush()
        # A read that queued behind the writer would never return here (its writer is us).
        assert await asyncio.wait_for(rt.db.run_read(job_count), timeout=10) == 0
    assert await rt.db.run_read(job_count) == 1


async def test_an_error_in_the_read_reaches_the_caller(rt: Runtime) -> None:
    def fail(session: Session) -> None:
        session.scalar(select(func.count()).select_from(Job))
        raise LookupError("our bug")

    with pytest.raises(LookupError, match="our bug"):
        await rt.db.run_read(fail)
    assert await rt.db.run_read(job_count) == 0  # the thread is still serving reads
