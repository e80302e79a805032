"""A real worker in its own process, for the tests that kill workers or race two of them.

    python -m tests.jobs.worker_process DATABASE_URL CLOCK_ISO MODE [SYNC_DIR]

MODE `forever`: Worker.run until killed. MODE `idle`: write SYNC_DIR/ready-<pid>, wait for
SYNC_DIR/go, then Worker.run_until_idle and exit. MODE `jumpy`: like `idle`, but Worker.run
(reaping every 20 ms) while this process's clock jumps back and forth by hours, until
SYNC_DIR/stop appears. The clock is frozen at CLOCK_ISO (and jumps from there).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import tests.jobs.sample_tasks  # noqa: F401  (registers the tasks)
from kefu.clock import Clock
from kefu.db import Database
from kefu.jobs.worker import Worker
from kefu.runtime import Runtime
from kefu.secretbox import SecretBox
from kefu.settings import Settings


def wait_for_go(sync_dir: str) -> None:
    """Line up with the other worker processes: say we are ready, start when told."""
    Path(sync_dir, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 30
    while not Path(sync_dir, "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.01)


async def jump_until_stopped(clock: Clock, start: datetime, sync_dir: str, stop: asyncio.Event) -> None:
    """Every 10 ms: the domain clock somewhere between an hour before `start` and two days after."""
    told_to_stop = Path(sync_dir, "stop").exists
    while not await asyncio.to_thread(told_to_stop):
        clock.set(start + timedelta(hours=random.uniform(-1, 48)))
        await asyncio.sleep(0.01)
    stop.set()


async def main(url: str, clock_iso: str, mode: str, sync_dir: str | None) -> None:
    start = datetime.fromisoformat(clock_iso)
    clock = Clock(start=start)
    clock.freeze()
    rt = Runtime(
        settings=Settings(env="development", database_url=url),
        db=Database(url),
        clock=clock,
        secrets=SecretBox(b"test"),
    )
    # A jumpy worker reaps often: each reap is a chance to take a live lease by mistake.
    worker = Worker(rt, concurrency=4, poll_interval_s=0.05, reap_interval_s=0.02 if mode == "jumpy" else 5.0)
    try:
        if mode == "forever":
            await worker.run(asyncio.Event())
            return
        if mode == "jumpy":
            assert sync_dir is not None
            stop = asyncio.Event()
            jumps = asyncio.create_task(jump_until_stopped(clock, start, sync_dir, stop))
            await worker.run(stop)
            await jumps
            return
        await worker.run_until_idle()
    finally:
        await rt.close()


if __name__ == "__main__":
    database_url, clock_iso, mode = sys.argv[1:4]
    sync_dir = sys.argv[4] if len(sys.argv) > 4 else None
    if mode in ("idle", "jumpy"):
        assert sync_dir is not None
        wait_for_go(sync_dir)
    asyncio.run(main(database_url, clock_iso, mode, sync_dir))
