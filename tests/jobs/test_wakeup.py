"""NOTIFY on PostgreSQL: what a transaction announces reaches other processes once it commits,
in one statement for all its channels, and never when it rolls back."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.jobs import wakeup
from kefu.jobs.queue import enqueue
from kefu.runtime import Runtime

pytestmark = pytest.mark.db


async def notifications(conn: psycopg.AsyncConnection, within_s: float) -> list[str]:
    """The channels notified on `conn` until nothing more arrives for `within_s`."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(within_s):
            async for note in conn.notifies():
                seen.append(note.channel)
    except TimeoutError:
        pass
    return seen


async def test_a_transaction_notifies_each_channel_once_in_one_statement_on_commit(rt: Runtime) -> None:
    if rt.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    async with await psycopg.AsyncConnection.connect(
        wakeup.libpq_conninfo(rt.db.url), autocommit=True
    ) as listener:
        await listener.execute(f"LISTEN {wakeup.CHANNEL}")
        await listener.execute(f"LISTEN {wakeup.CHANGES_CHANNEL}")
        event.listen(rt.db.engine.sync_engine, "before_cursor_execute", record)
        try:
            async with AsyncSession(rt.db.engine) as session, session.begin():
                await enqueue(session, "tests.record", {"key": "a"}, now=rt.clock.now())
                await enqueue(session, "tests.record", {"key": "b"}, now=rt.clock.now())
                await session.run_sync(wakeup.announce_change)
            async with AsyncSession(rt.db.engine) as session:
                async with session.begin():
                    await enqueue(session, "tests.record", {"key": "c"}, now=rt.clock.now())
                    await session.run_sync(wakeup.announce_change)
                    await session.rollback()
        finally:
            event.remove(rt.db.engine.sync_engine, "before_cursor_execute", record)
        seen = await notifications(listener, within_s=1.0)
    assert sorted(seen) == sorted([wakeup.CHANNEL, wakeup.CHANGES_CHANNEL])  # none from the rollback
    notifies = [s for s in statements if "pg_notify" in s]
    assert len(notifies) == 1 and notifies[0].count("pg_notify") == 2, notifies
