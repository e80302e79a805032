"""A safety-net loop: run `work` at once and then every `KEFU_POLL_INTERVAL_S` until `stop`.

A failure is logged and the loop goes on: a dead loop would silently stop what it guarantees
(messages pulled though callbacks stop, pools dispatched though a trigger was missed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger(__name__)


async def run_every_poll_interval(
    rt: Runtime, stop: asyncio.Event, work: Callable[[Runtime], Awaitable[Any]], *, name: str
) -> None:
    while not stop.is_set():
        try:
            await work(rt)
        except OperationalError:
            log.exception(f"{name}.database_unavailable")
        except Exception:  # keep going: see the module's docstring
            log.exception(f"{name}.failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rt.settings.poll_interval_s)
