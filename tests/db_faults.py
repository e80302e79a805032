"""Real database faults for tests: a trigger that refuses writes to a table, as a full disk,
a crash or a bug of ours would, without mocking any of our code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from kefu.runtime import Runtime


@asynccontextmanager
async def refusing(rt: Runtime, table: str, operation: str = "INSERT") -> AsyncIterator[None]:
    """While inside, every `operation` (INSERT/UPDATE) on `table` fails with 'injected failure'."""
    name = f"kefu_test_refuse_{table}_{operation.lower()}"
    if rt.db.dialect == "postgresql":
        create = [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {name} BEFORE {operation} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
        drop = [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
    else:
        create = [
            f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ]
        drop = [f"DROP TRIGGER IF EXISTS {name}"]
    async with rt.db.write() as session:
        for statement in create:
            await session.execute(text(statement))
    try:
        yield
    finally:
        async with rt.db.write() as session:
            for statement in drop:
                await session.execute(text(statement))
