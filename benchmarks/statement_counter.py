"""`kefu` with every SQL statement and transaction it runs counted: `hot_path.py --count`.

    python benchmarks/statement_counter.py serve --port 8000     # as `kefu serve --port 8000`

On SIGUSR1 the counts so far go, as JSON, to the file named by $KEFU_BENCH_COUNTS. The driver
reads them before and after the measured messages: statements and transactions per answered
message are exact and do not move with the machine's load, unlike CPU seconds. Each statement's
shape (its SQL, whitespace collapsed, cut at 120 characters) is counted too, so the driver can
say which statements a message runs, with the CPU its thread spent in the database driver's
execute (thread CPU time: the database's own work on SQLite, which the Python profile cannot see;
little moved by load). That is how a statement SQLite prepared again at every run was found.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_lock = threading.Lock()  # statements run on the event loop's thread and on SQLite's writer thread
_counts = {"statements": 0, "transactions": 0, "flushes": 0}
_shapes: Counter[str] = Counter()
_driver_ns: Counter[str] = Counter()  # thread CPU in the driver's execute, by shape
_started = threading.local()


def _count(key: str) -> None:
    with _lock:
        _counts[key] += 1


@event.listens_for(Engine, "before_cursor_execute")
def _on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    shape = " ".join(statement.split())[:120]
    with _lock:
        _counts["statements"] += 1
        _shapes[shape] += 1
    _started.value = (shape, time.thread_time_ns())


@event.listens_for(Engine, "after_cursor_execute")
def _on_statement_done(*_args: Any) -> None:
    shape, started = _started.value
    with _lock:
        _driver_ns[shape] += time.thread_time_ns() - started


@event.listens_for(Engine, "begin")
def _on_begin(*_args: Any) -> None:
    _count("transactions")


@event.listens_for(Session, "after_flush")
def _on_flush(*_args: Any) -> None:
    _count("flushes")  # the ORM's unit of work: a fixed cost of a few hundred µs each


def _dump(_signum: int, _frame: FrameType | None) -> None:
    with _lock:
        snapshot: dict[str, Any] = {**_counts, "shapes": dict(_shapes), "driver_ns": dict(_driver_ns)}
    target = Path(os.environ["KEFU_BENCH_COUNTS"])
    target.with_suffix(".tmp").write_text(json.dumps(snapshot))
    target.with_suffix(".tmp").replace(target)  # the driver never reads half a file


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _dump)
    from kefu.cli import app

    sys.argv = ["kefu", *sys.argv[1:]]
    app()
