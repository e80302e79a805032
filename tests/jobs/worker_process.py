"""A real worker in its own process, for the tests that kill workers or race two of them.

    python -m tests.jobs.worker_process DATABASE_URL CLOCK_ISO MODE [SYNC_DIR]

MODE `forever`: Worker.run until killed. MODE `idle`: write SYNC_DIR/ready-<pid>, wait for
SYNC_DIR/go, then Worker.run_until_idle and exit. The clock is frozen at CLOCK_ISO.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import datetime
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


async def main(url: str, clock_iso: str, mode: str) -> None:
    clock = Clock(start=datetime.fromisoformat(clock_iso))
    clock.freeze()
    rt = Runtime(
        settings=Settings(env="development", database_url=url),
        db=Database(url),
        clock=clock,
        secrets=SecretBox(b"test"),
    )
    worker = Worker(rt, concurrency=4, poll_interval_s=0.05)
    try:
        if mode == "forever":
            await worker.run(asyncio.Event())
            return
        await worker.run_until_idle()
    finally:
        await rt.close()


if __name__ == "__main__":
    database_url, clock_iso, mode = sys.argv[1:4]
    if mode == "idle":
        wait_for_go(sys.argv[4])
    asyncio.run(main(database_url, clock_iso, mode))
