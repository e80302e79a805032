"""Engine and sessions.

`db.write()` opens a write transaction (SQLite: `BEGIN IMMEDIATE`, so two writers
queue on the busy timeout instead of failing on a lock upgrade); `db.read()` a
plain one. Both commit on success and roll back on error. Callbacks registered
with `on_commit(session, fn)` run after the commit succeeds.

`db.run_write(fn, ...)` runs a plain synchronous `fn(session, ...)` as one write
transaction. It is for hot paths: aiosqlite makes every cursor call a round trip
to its thread (four to six per statement, each costing the event loop a wake-up),
so on SQLite `run_write` runs the whole transaction on a dedicated writer thread
in ONE round trip. On PostgreSQL units run on a small pool of threads with the sync driver,
which spends ~25-40 % less CPU per statement than the async driver's greenlet bridge.
`db.run_read(fn, ...)` does the same for a read transaction.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from kefu.db.base import JSON_CODEC
from kefu.db.unit_threads import UnitThreads

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# run_write/run_read units at once per process on PostgreSQL (each holds a connection meanwhile).
POSTGRES_UNIT_THREADS = 4


def async_url(url: str) -> str:
    """Map the user-facing URL to the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return _render(parsed.set(drivername="sqlite+aiosqlite"))
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return _render(parsed.set(drivername="postgresql+psycopg"))
    return url


def sync_url(url: str) -> str:
    """The same database through a sync driver (Alembic)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return _render(parsed.set(drivername="sqlite"))
    if parsed.drivername.startswith("postgres"):
        return _render(parsed.set(drivername="postgresql+psycopg"))
    return url


def _render(url: URL) -> str:
    # str(url) masks the password as "***", which the driver would then send.
    return url.render_as_string(hide_password=False)


def private_sqlite_file(url: str) -> None:
    """The SQLite file holds every customer message: make it readable by its owner only.

    SQLite would create it with the umask's mode (usually 0644), so create it first, 0600,
    in a folder made 0700 if it is missing (an existing folder, e.g. the working directory,
    is the admin's and left alone). SQLite gives the -wal and -shm files the main file's
    mode. An existing file (and siblings) readable by others is tightened."""
    parsed = make_url(url)
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or database in (None, "", ":memory:"):
        return
    if database.startswith("file:"):  # a URI filename: SQLite's to interpret
        return
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # missing, or not ours to change
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                file.chmod(mode & 0o700)


def _configure_sqlite(sync_engine: Engine) -> None:
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
        # On the driver's cursor: exec_driver_sql ran the whole statement machinery (~60 µs,
        # a fifth of a small transaction), and every unit begins once.
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        driver_error = conn.dialect.loaded_dbapi.Error
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        except driver_error as exc:  # as SQLAlchemy's own execution would raise it ("database is locked")
            raise DBAPIError.instance(statement, None, exc, driver_error, dialect=conn.dialect) from exc
        finally:
            cursor.close()


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
        kwargs: dict[str, Any] = {"echo": echo, **JSON_CODEC}
        if self.is_sqlite:
            private_sqlite_file(url)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine = create_async_engine(async_url(url), **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine)
        self._write_engine = self.engine.execution_options(kefu_write=True)
        # SQLite has one writer: queue this process's writers here instead of in SQLite's
        # busy handler, which sleeps in growing steps and inflates tail latency.
        self._writers = WriterQueue() if self.is_sqlite else None
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self._write_engine, expire_on_commit=False)
        # run_write's threads: SQLite's one writer thread (a second engine on the same file; not
        # for an in-memory database, which a second engine would not see), or PostgreSQL's pool.
        self._thread_engine: Engine | None = None
        self._thread_sessions: Callable[[], Session] | None = None
        self._thread_read_sessions: Callable[[], Session] | None = None
        self._thread: UnitThreads | None = None
        self._threads = 1 if self.is_sqlite else POSTGRES_UNIT_THREADS
        if self.is_sqlite and make_url(url).database not in (None, "", ":memory:"):
            self._thread_engine = create_engine(sync_url(url), echo=echo, **JSON_CODEC)
            _configure_sqlite(self._thread_engine)
        elif not self.is_sqlite:
            self._thread_engine = create_engine(
                sync_url(url),
                echo=echo,
                pool_size=self._threads,
                max_overflow=0,
                pool_pre_ping=True,
                **JSON_CODEC,
            )
        if self._thread_engine is not None and self.is_sqlite:
            # Per thread: after dispose() a new writer thread opens its own, while units already
            # queued on the old one finish there with the old thread's.
            self._writer_local = threading.local()
            self._thread_sessions = partial(self._writer_session, write=True)
            self._thread_read_sessions = partial(self._writer_session, write=False)
            self._thread = self._new_threads()
        elif self._thread_engine is not None:
            self._thread_sessions = sessionmaker(
                self._thread_engine.execution_options(kefu_write=True), expire_on_commit=False
            )
            self._thread_read_sessions = sessionmaker(self._thread_engine, expire_on_commit=False)
            self._thread = self._new_threads()

    def _writer_session(self, *, write: bool) -> Session:
        """On SQLite's writer thread: a session on the thread's long-lived connection (one for
        write units, one for reads). A pool's checkout and checkin cost ~110 µs a unit, a third
        of a small one; SQLite has no server that could drop the connection meanwhile."""
        assert self._thread_engine is not None
        connections = self._writer_connections()
        connection = connections.get(write)
        if connection is None or connection.closed:
            engine = self._thread_engine.execution_options(kefu_write=True) if write else self._thread_engine
            connection = connections[write] = engine.connect()
        return Session(bind=connection, expire_on_commit=False)

    def _writer_connections(self) -> dict[bool, Connection]:
        connections: dict[bool, Connection] | None = getattr(self._writer_local, "connections", None)
        if connections is None:
            connections = self._writer_local.connections = {}
        return connections

    def _drop_writer_connection(self, *, write: bool) -> None:
        """After a unit failed: close its connection (back to the pool, whose reset rolls the
        driver back). A COMMIT that failed can leave SQLite's transaction open under a
        SQLAlchemy that thinks it ended, holding the write lock; the next unit opens anew."""
        connection = self._writer_connections().pop(write, None)
        if connection is not None:
            connection.close()

    def _close_writer_connections(self) -> None:
        for write in (True, False):
            self._drop_writer_connection(write=write)

    def _failed(self, write: bool) -> Callable[[], None] | None:
        """What to do on the unit's thread when its transaction failed (SQLite's own connections)."""
        return partial(self._drop_writer_connection, write=write) if self.is_sqlite else None

    def _new_threads(self) -> UnitThreads:
        return UnitThreads(self._threads, "kefu-sqlite-writer" if self.is_sqlite else "kefu-db-unit")

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

    async def run_write(
        self,
        fn: Callable[..., T],
        *args: Any,
        urgent: bool = False,
        **kwargs: Any,
    ) -> T:
        """Run the synchronous `fn(session, *args, **kwargs)` in one write transaction and
        return its result (objects come back detached but loaded); see the module docstring.

        A caller cancelled meanwhile gets the transaction rolled back, as with `db.write()`
        (unless the thread was already committing), and keeps SQLite's writer until the
        thread is done with it."""
        if self._thread is None or self._thread_sessions is None:
            async with self.write(urgent=urgent) as session:
                return await session.run_sync(fn, *args, **kwargs)

        def unit(session: Session) -> T:
            return fn(session, *args, **kwargs)

        abandoned = threading.Event()
        # The caller's context goes along (as with asyncio.to_thread): a unit may read context
        # variables, e.g. the running job it finishes (kefu.jobs.current).
        work = partial(
            contextvars.copy_context().run,
            _transaction,
            self._thread_sessions,
            unit,
            abandoned,
            self._failed(True),
        )
        queue = self._writers.hold(urgent=urgent) if self._writers is not None else contextlib.nullcontext()
        async with queue:
            pending = self._thread.submit(work)
            try:
                result, callbacks = await asyncio.shield(pending)
            except asyncio.CancelledError:
                abandoned.set()
                while not pending.done():  # however often we are cancelled meanwhile
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.shield(pending)
                if not pending.cancelled():
                    pending.exception()  # retrieved: the caller is gone, nothing to report to
                raise
        await _run_callbacks(callbacks)
        return result

    async def run_read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run the synchronous `fn(session, *args, **kwargs)` in one read transaction, on the
        units' thread(s) in one round trip (on SQLite a plain BEGIN: it neither takes SQLite's
        write lock nor waits in the writer queue)."""
        if self._thread is None or self._thread_read_sessions is None:
            async with self.read() as session:
                return await session.run_sync(fn, *args, **kwargs)

        def unit(session: Session) -> T:
            return fn(session, *args, **kwargs)

        read = partial(_transaction, self._thread_read_sessions, unit, threading.Event(), self._failed(False))
        result, _callbacks = await self._thread.submit(read)
        return result

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._thread is not None and self._thread_engine is not None:
            # Its connections belong to the writer thread: close them there, then let it end.
            # New units go to a new thread from now on; those queued on the old one run first.
            old, self._thread = self._thread, self._new_threads()
            if self.is_sqlite:
                await old.submit(self._close_writer_connections)
            await old.submit(self._thread_engine.dispose)
            old.shutdown()


class _Abandoned(Exception):
    """The caller of a `run_write` unit was cancelled before the unit committed."""


def _transaction(
    sessions: Callable[[], Session],
    fn: Callable[[Session], T],
    abandoned: threading.Event,
    failed: Callable[[], None] | None = None,
) -> tuple[T, list[Any]]:
    """On the writer thread: run `fn` in a write transaction; hand back its on-commit callbacks.
    If its caller is gone by the time `fn` returns, roll back instead of committing. `failed`:
    called when the transaction did not commit, whatever the reason."""
    try:
        with sessions() as session:
            with session.begin():
                result = fn(session)
                if abandoned.is_set():
                    raise _Abandoned
            return result, session.info.pop("after_commit", [])
    except BaseException:
        if failed is not None:
            failed()
        raise


def before_commit(
    session: AsyncSession | Session, step: Callable[[Session], Any], *, last: bool = False
) -> None:
    """Run `step(session)` as one of the transaction's last steps, just before it commits (never
    when it rolls back): it sees, and may add to, everything the transaction wrote. `last`: after
    every other step, even those registered later (a NOTIFY, which the others may make moot)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault("before_commit_last" if last else "before_commit", []).append(step)


@event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the transaction goes on
    # A step may add steps (a job's completion queues a NOTIFY): run until none is left.
    while steps := session.info.pop("before_commit", None) or session.info.pop("before_commit_last", None):
        for step in steps:
            step(session)


def on_commit(session: AsyncSession | Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback), on
    the event loop (also for `run_write`'s thread)."""
    session.info.setdefault("after_commit", []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    await _run_callbacks(session.info.pop("after_commit", []))


async def _run_callbacks(callbacks: list[Any]) -> None:
    for callback in callbacks:
        result = callback()
        if hasattr(result, "__await__"):
            await result
