"""Waking idle workers when a job is enqueued; polling stays the safety net.

- In-process: `enqueue` registers `notify_local_workers` to run on commit; it
  sets the wake-up event of each worker running in this process.
- Across processes (PostgreSQL): `enqueue` queues pg_notify('kefu_jobs', task) for the
  transaction's last step (one statement for all its NOTIFYs), delivered on commit; each worker
  LISTENs on a dedicated connection.

The same two paths carry the console's live signal (`announce_change`, channel kefu_changes):
"something a person watches changed" — a conversation decided on, a message stored — so open
pages re-read their lists without reload (kefu.console.events).
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kefu.db import before_commit, on_commit
from kefu.logs import get_logger

CHANNEL = "kefu_jobs"
CHANGES_CHANNEL = "kefu_changes"
RECONNECT_DELAY_S = 5.0

log = get_logger("kefu.jobs")


class _LocalWakeUps:
    """The wake-up events of the workers living in this process (one per running Worker)."""

    def __init__(self) -> None:
        self._events: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._events[event] = asyncio.get_running_loop()
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._events.pop(event, None)

    def notify(self) -> None:
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for event, loop in list(self._events.items()):
            if loop is current:
                event.set()
            else:
                # A worker on another thread's loop: asyncio events are not thread-safe.
                with contextlib.suppress(RuntimeError):  # that loop is already closed
                    loop.call_soon_threadsafe(event.set)


_local = _LocalWakeUps()
subscribe = _local.subscribe
unsubscribe = _local.unsubscribe


def notify_local_workers() -> None:
    _local.notify()


# (id, lock) of the jobs a transaction queued (session.info): kefu.jobs.current reads them.
QUEUED_JOBS = "kefu_queued_jobs"


# The NOTIFYs a transaction will send (session.info): channel → payload, sent in one statement.
PENDING_NOTIFIES = "kefu_pending_notifies"


def _notify_on_commit(session: Session, channel: str, payload: str) -> None:
    """NOTIFY `channel` when `session` commits, once per transaction and channel: listeners only
    wake up (the payload is for people reading pg_stat_activity), and PostgreSQL folds a
    transaction's identical NOTIFYs anyway. One statement carries all of a transaction's."""
    if session.get_bind().dialect.name != "postgresql":
        return
    pending = session.info.get(PENDING_NOTIFIES)
    if pending is None:
        pending = session.info[PENDING_NOTIFIES] = {}
        before_commit(session, _send_notifies, last=True)
    pending.setdefault(channel, payload)


def _send_notifies(session: Session) -> None:
    pending: dict[str, str] = session.info.pop(PENDING_NOTIFIES, {})
    if not pending:
        return
    # Queued by PostgreSQL and delivered only if and when the transaction commits.
    calls = ", ".join(f"pg_notify(:channel{i}, :payload{i})" for i in range(len(pending)))
    params: dict[str, str] = {}
    for i, (channel, payload) in enumerate(pending.items()):
        params[f"channel{i}"], params[f"payload{i}"] = channel, payload
    session.execute(text(f"SELECT {calls}"), params)


def announce(session: Session, task: str, lock: str | None = None, job_id: int | None = None) -> None:
    """Wake workers once `session` commits: this process's directly, other processes by NOTIFY.
    (Synchronous, like `add_job`; from an AsyncSession: `await session.run_sync(announce, task)`.)"""
    _notify_on_commit(session, CHANNEL, task)
    on_commit(session, notify_local_workers)
    if job_id is not None:
        session.info.setdefault(QUEUED_JOBS, []).append((job_id, lock))


def unannounce(session: Session) -> None:
    """Take back this transaction's wake-up of the workers, local and (if not sent yet) by NOTIFY:
    every job it queued was handed over in it, or waits behind one that was."""
    callbacks = session.info.get("after_commit", [])
    while notify_local_workers in callbacks:
        callbacks.remove(notify_local_workers)
    session.info.get(PENDING_NOTIFIES, {}).pop(CHANNEL, None)


_changes = _LocalWakeUps()
subscribe_changes = _changes.subscribe
unsubscribe_changes = _changes.unsubscribe


def notify_local_watchers() -> None:
    _changes.notify()


def announce_change(session: Session) -> None:
    """Tell open console pages, once `session` commits, that conversations changed (this process
    directly, other processes by NOTIFY on kefu_changes)."""
    if notify_local_watchers in session.info.get("after_commit", ()):
        return  # once per transaction is enough
    _notify_on_commit(session, CHANGES_CHANNEL, "")
    on_commit(session, notify_local_watchers)


def libpq_conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as a libpq URL psycopg can open directly."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_postgres(database_url: str, wake: asyncio.Event, channel: str = CHANNEL) -> None:
    """Set `wake` on every NOTIFY on `channel`; reconnects after errors, runs until cancelled."""
    import psycopg  # here, not at the top: a process on SQLite never loads it (9 MB)

    conninfo = libpq_conninfo(database_url)
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
            async with conn:
                await conn.execute(f"LISTEN {channel}")
                # A NOTIFY may have been sent while we were not listening yet.
                wake.set()
                async for _notification in conn.notifies():
                    wake.set()
        except (psycopg.OperationalError, OSError) as exc:
            log.warning("jobs.listen_failed", error=str(exc), retry_in_s=RECONNECT_DELAY_S)
            await asyncio.sleep(RECONNECT_DELAY_S)
