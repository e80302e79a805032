"""The low-rate poll: on start and every `poll_interval_s`, wake a sync for every account,
so that messages arrive even if callbacks stop (they stay pullable for 3 days)."""

from __future__ import annotations

import asyncio

from kefu.ingest.tasks import enqueue_sync_for_all
from kefu.jobs.periodic import run_every_poll_interval
from kefu.runtime import Runtime


async def run_poller(rt: Runtime, stop: asyncio.Event) -> None:
    await run_every_poll_interval(rt, stop, enqueue_sync_for_all, name="poller")
