"""The console's live signal: a Server-Sent Events stream that says "changed" whenever a
conversation was decided on or a message stored (kefu.jobs.wakeup.announce_change), so an open
page re-reads its lists without reload (console.js turns each event into htmx's `kefu:changed`).

In one process the signal is an asyncio event set on commit; across processes on PostgreSQL it
is NOTIFY kefu_changes, heard by one LISTEN connection per process (started by the first page
that streams) and passed on to the same local events. The stream ends after a while and the
browser's EventSource reconnects, so a signed-out session stops receiving; pages also poll
slowly, in case a proxy holds streams back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from kefu.jobs import wakeup
from kefu.runtime import Runtime

LIFETIME_S = 45.0  # then the browser reconnects (and signs in again)
HEARTBEAT_S = 15.0  # a comment line, so idle proxies keep the stream open
SETTLE_S = 0.2  # changes close together make one event
RETRY_MS = 1000

_listeners: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


async def _relay_postgres(url: str) -> None:
    """LISTEN kefu_changes for this process and wake its local watchers on every NOTIFY."""
    heard = asyncio.Event()
    listening = asyncio.create_task(wakeup.listen_postgres(url, heard, wakeup.CHANGES_CHANNEL))
    try:
        while True:
            await heard.wait()
            heard.clear()
            wakeup.notify_local_watchers()
    finally:
        listening.cancel()


def _ensure_relay(rt: Runtime) -> None:
    if rt.db.dialect != "postgresql":
        return  # SQLite has one process: the local events are enough
    loop = asyncio.get_running_loop()
    task = _listeners.get(loop)
    if task is None or task.done():
        _listeners[loop] = loop.create_task(_relay_postgres(rt.db.url))


async def changes(rt: Runtime, *, lifetime_s: float = LIFETIME_S) -> AsyncIterator[str]:
    """The event stream's lines: `retry`, then `event: changed` per change, heartbeats between."""
    _ensure_relay(rt)
    changed = wakeup.subscribe_changes()
    loop = asyncio.get_running_loop()
    ends = loop.time() + lifetime_s
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while (left := ends - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(HEARTBEAT_S, left))
            if not changed.is_set():
                yield ": still here\n\n"
                continue
            await asyncio.sleep(SETTLE_S)
            changed.clear()
            yield "event: changed\ndata: \n\n"
    finally:
        wakeup.unsubscribe_changes(changed)
