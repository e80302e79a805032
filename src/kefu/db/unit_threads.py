"""The threads that run `db.run_write` / `db.run_read` units (kefu.db.engine).

A unit goes to its thread on a SimpleQueue and its outcome comes back to the event loop with
`call_soon_threadsafe`. `run_in_executor` did the same through a concurrent.futures Future
chained to an asyncio one: several lock round trips on both threads per unit, which under
load (every message passes through four or five units) cost about 5 % of Kefu's CPU
(`benchmarks/hot_path.py --profile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

_Item = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class UnitThreads:
    """`count` threads taking units from one queue, in order (one thread: one at a time)."""

    def __init__(self, count: int, name: str) -> None:
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{number}", daemon=True)
            for number in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run `fn()` on a unit thread; the future (of the running loop) gets its outcome. A
        cancelled future does not stop `fn`, whose outcome is then dropped."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, loop, future))
        return future

    def shutdown(self) -> None:
        """Let the threads end once the units queued so far have run."""
        for _ in self._threads:
            self._queue.put(None)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, loop, future = item
            try:
                outcome = partial(_succeed, future, fn())
            except BaseException as exc:  # the caller's to see, whatever it is
                outcome = partial(_fail, future, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: no one to tell
                loop.call_soon_threadsafe(outcome)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # cancelled by its caller meanwhile
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
