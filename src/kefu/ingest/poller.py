"""The low-rate poll: on start and every `poll_interval_s`, wake a sync for every account,
so that messages arrive even if callbacks stop (they stay pullable for 3 days)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.exc import OperationalError

from kefu.ingest.tasks import enqueue_sync_for_all
from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger(__name__)


async def run_poller(rt: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await enqueue_sync_for_all(rt)
        except OperationalError:
            log.exception("poller.database_unavailable")
        except Exception:  # keep polling: a dead poller would silently stop the safety net
            log.exception("poller.failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rt.settings.poll_interval_s)
