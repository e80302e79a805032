"""What `hot_path.py --count` reads from Kefu's processes run through `statement_counter.py`
(on SIGUSR1), and how it reports the difference between two readings per answered message:
statements by shape with their driver time, each thread's CPU, the garbage collector's runs,
and each unit's CPU (its function's and its whole transaction's)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

TOTALS = ("statements", "transactions", "flushes")
PARTS = ("shapes", "driver_ns", "unit_runs", "unit_ns", "transaction_ns", "thread_ns", "gc_runs", "gc_ns")


def read_counts(kefu: dict[str, subprocess.Popen[bytes]], counts_files: dict[str, Path]) -> dict[str, Any]:
    """Everything Kefu's processes counted so far, summed over the processes."""
    for role, proc in kefu.items():
        counts_files[role].unlink(missing_ok=True)
        proc.send_signal(signal.SIGUSR1)
    total: dict[str, Any] = {**dict.fromkeys(TOTALS, 0), **{part: Counter() for part in PARTS}}
    for role, counts_file in counts_files.items():
        deadline = time.monotonic() + 10
        while not counts_file.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"kefu {role} wrote no counts (SIGUSR1)")
            time.sleep(0.05)
        counts = json.loads(counts_file.read_text())
        for key in TOTALS:
            total[key] += counts[key]
        for part in PARTS:
            total[part].update(counts[part])
    return total


def _grown(before: dict[str, Any], after: dict[str, Any], part: str) -> dict[str, float]:
    return {name: n - before[part].get(name, 0) for name, n in after[part].items()}


def per_message(before: dict[str, Any], after: dict[str, Any], total: int) -> dict[str, float]:
    """Statements, transactions and ORM flushes per answered message."""
    return {f"{key}_per_msg": round((after[key] - before[key]) / total, 2) for key in TOTALS}


def print_counts(before: dict[str, Any], after: dict[str, Any], total: int) -> None:
    shapes, driver_ns = _grown(before, after, "shapes"), _grown(before, after, "driver_ns")
    print("statements per message, by shape (and the thread CPU of one run in the driver, µs):")
    for shape, runs in sorted(shapes.items(), key=lambda item: -item[1]):
        if runs / total >= 0.05:
            print(f"  {runs / total:5.2f}  {driver_ns.get(shape, 0) / runs / 1000:6.0f}  {shape}")
    print("thread CPU per message, ms, by thread (the units' threads and the event loop):")
    for name, ns in sorted(_grown(before, after, "thread_ns").items(), key=lambda item: -item[1]):
        print(f"  {ns / total / 1e6:6.2f}  {name}")
    print("garbage collections while measured: runs, total ms, by generation:")
    gc_ns = _grown(before, after, "gc_ns")
    for name, runs in sorted(_grown(before, after, "gc_runs").items()):
        print(f"  {name}  {runs:6.0f}  {gc_ns.get(name, 0) / 1e6:8.1f}")
    print(
        "units per message, and their thread CPU per message (ms): the function's, and its whole "
        "transaction's (session, BEGIN, steps before COMMIT such as the job's completion, COMMIT):"
    )
    runs, transaction_ns = _grown(before, after, "unit_runs"), _grown(before, after, "transaction_ns")
    for name, ns in sorted(_grown(before, after, "unit_ns").items(), key=lambda item: -item[1]):
        if runs.get(name, 0) / total >= 0.05:
            whole = transaction_ns.get(name, 0) / total / 1e6
            print(f"  {runs[name] / total:5.2f}  {ns / total / 1e6:6.2f}  {whole:6.2f}  {name}")
