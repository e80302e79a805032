"""Engine and sessions.

`db.write()` opens a write transaction (SQLite: `BEGIN IMMEDIATE`, so two writers
queue on the busy timeout instead of failing on a lock upgrade); `db.read()` a
plain one. Both commit on success and roll back on error. Callbacks registered
with `on_commit(session, fn)` run after the commit succeeds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(url: str) -> str:
    """Map the user-facing URL to the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return str(parsed.set(drivername="postgresql+psycopg"))
    return url


def sync_url(url: str) -> str:
    """The same database through a sync driver (Alembic)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return str(parsed.set(drivername="sqlite"))
    if parsed.drivername.startswith("postgres"):
        return str(parsed.set(drivername="postgresql+psycopg"))
    return url


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions defer locking).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("kefu_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriterQueue:
    """SQLite's one writer, queued in-process: urgent writers (a callback WeCom is waiting
    on) go before routine ones (background jobs), each class in arrival order."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: dict[bool, collections.deque[asyncio.Future[None]]] = {
            True: collections.deque(),
            False: collections.deque(),
        }

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool) -> AsyncIterator[None]:
        if self._busy or self._waiting[True] or self._waiting[False]:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting[urgent].append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # we were handed the lock as we were cancelled
                else:
                    self._waiting[urgent].remove(waiter)
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in (self._waiting[True], self._waiting[False]):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # hand over: _busy stays True
                    return
        self._busy = False


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine = create_async_engine(async_url(url), **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._write_engine = self.engine.execution_options(kefu_write=True)
        # SQLite has one writer: queue this process's writers here instead of in SQLite's
        # busy handler, which sleeps in growing steps and inflates tail latency.
        self._writers = WriterQueue() if self.is_sqlite else None
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self._write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A write transaction; `urgent` ones (a request WeCom waits on) queue before jobs' on SQLite."""
        async with contextlib.AsyncExitStack() as stack:
            if self._writers is not None:
                await stack.enter_async_context(self._writers.hold(urgent=urgent))
            session = await stack.enter_async_context(self._write_sessions())
            async with session.begin():
                yield session
        await _run_after_commit(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def on_commit(session: AsyncSession, callback: Callable[[], Any]) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        result = callback()
        if hasattr(result, "__await__"):
            await result
