"""`kefu` with every SQL statement and transaction it runs counted: `hot_path.py --count`.

    python benchmarks/statement_counter.py serve --port 8000     # as `kefu serve --port 8000`

On SIGUSR1 the counts so far go, as JSON, to the file named by $KEFU_BENCH_COUNTS. The driver
reads them before and after the measured messages: statements and transactions per answered
message are exact and do not move with the machine's load, unlike CPU seconds. Each statement's
shape (its SQL, whitespace collapsed, cut at 120 characters) is counted too, so the driver can
say which statements a message runs, with the CPU its thread spent in the database driver's
execute (thread CPU time: the database's own work on SQLite, which the Python profile cannot see;
little moved by load). That is how a statement SQLite prepared again at every run was found.
Each `db.run_write` / `db.run_read` unit's thread CPU is summed by the unit's function, and each
thread's CPU by its name: where a message's CPU goes, in the units and outside them (the event
loop), without a sampling profiler's own cost.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
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
_unit_runs: Counter[str] = Counter()
_unit_ns: Counter[str] = Counter()  # thread CPU of each unit function, statements included
# ... and of its whole transaction: the session, BEGIN, the steps run before COMMIT (a job's
# completion and hand-over claim), COMMIT
_transaction_ns: Counter[str] = Counter()
_last_unit = threading.local()


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


def _timed(fn: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """`fn`, its calls counted and their thread CPU summed under `name` (a unit: its function's)."""
    unit_name = name or getattr(fn, "__qualname__", repr(fn))

    def unit(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.thread_time_ns() - started
            if name is None:
                _last_unit.name = unit_name
            with _lock:
                _unit_runs[unit_name] += 1
                _unit_ns[unit_name] += spent

    return unit


def _timed_transaction(transaction: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        started = time.thread_time_ns()
        _last_unit.name = "(no unit)"
        try:
            return transaction(*args)
        finally:
            spent = time.thread_time_ns() - started
            with _lock:
                _transaction_ns[_last_unit.name] += spent

    return timed


def _count_units() -> None:
    from kefu.db import engine
    from kefu.db.engine import Database

    engine._transaction = _timed_transaction(engine._transaction)  # type: ignore[attr-defined]
    run_write, run_read = Database.run_write, Database.run_read

    async def timed_write(self: Database, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_write(self, _timed(fn), *args, **kwargs)

    async def timed_read(self: Database, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_read(self, _timed(fn), *args, **kwargs)

    Database.run_write = timed_write  # type: ignore[method-assign]
    Database.run_read = timed_read  # type: ignore[method-assign]


def _time_functions(names: str) -> None:
    """Also sum the thread CPU of these functions (`module:function`, comma-separated, each
    replaced where its callers look it up), reported with the units: a step inside a unit, e.g.
    `kefu.jobs.current:_finish`, a job's completion and hand-over just before COMMIT."""
    import importlib

    for name in filter(None, names.split(",")):
        module_name, _, attribute = name.partition(":")
        module = importlib.import_module(module_name)
        setattr(module, attribute, _timed(getattr(module, attribute), f"{module_name}:{attribute}"))


_gc_started = [0.0]
_gc_runs: Counter[str] = Counter()
_gc_ns: Counter[str] = Counter()  # wall time of the garbage collector's runs, by generation


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter_ns()
        return
    generation = f"gen{info['generation']}"
    with _lock:
        _gc_runs[generation] += 1
        _gc_ns[generation] += time.perf_counter_ns() - int(_gc_started[0])


def _thread_cpu_ns() -> dict[str, int]:
    """Each live thread's CPU so far (user + system, from /proc), by its name."""
    tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    spent: Counter[str] = Counter()
    for thread in threading.enumerate():
        try:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[thread.name.rstrip("-0123456789")] += (int(fields[11]) + int(fields[12])) * tick_ns
    return dict(spent)


def _dump(_signum: int, _frame: FrameType | None) -> None:
    with _lock:
        snapshot: dict[str, Any] = {
            **_counts,
            "shapes": dict(_shapes),
            "driver_ns": dict(_driver_ns),
            "unit_runs": dict(_unit_runs),
            "unit_ns": dict(_unit_ns),
            "transaction_ns": dict(_transaction_ns),
            "gc_runs": dict(_gc_runs),
            "gc_ns": dict(_gc_ns),
        }
    snapshot["thread_ns"] = _thread_cpu_ns()
    target = Path(os.environ["KEFU_BENCH_COUNTS"])
    target.with_suffix(".tmp").write_text(json.dumps(snapshot))
    target.with_suffix(".tmp").replace(target)  # the driver never reads half a file


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _dump)
    _count_units()
    _time_functions(os.environ.get("KEFU_BENCH_TIME", ""))
    import gc

    gc.callbacks.append(_on_gc)
    from kefu.cli import app

    sys.argv = ["kefu", *sys.argv[1:]]
    app()
