"""benchmarks/e2e.py still runs end to end (simulator, `kefu serve` on SQLite, the bare loop, real
processes): a shortened `--quick` run writes every field issue #14 asks for, and every customer
message was stored, processed and answered exactly once. Not a timed test: the figures are only
checked for being there and sane, the speed is the benchmark's business."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {
    "sustained_msgs_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cpu_s_per_1000_msgs",
    "rss_idle_mb",
    "rss_peak_mb",
}

# SQLite only, whatever KEFU_TEST_DATABASE_URL says: not marked db/e2e, so the PostgreSQL pass skips it.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e-benchmark")]


def test_the_quick_run_writes_the_fields_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "e2e.json"
    # Short steps (5 and 10 msg/s): enough to exercise stepping, the drain and the checks.
    argv = [sys.executable, str(ROOT / "benchmarks" / "e2e.py"), "--quick", "--json", str(out)]
    argv += ["--step-seconds", "3", "--max-rate", "10", "--p99-target-ms", "5000"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    assert "sustained msg/s" in run.stdout  # the table's header
    figures = json.loads(out.read_text())
    assert {"machine", "kefu", "bare", "ratio"} <= figures.keys()
    for side in ("kefu", "bare"):
        assert set(figures[side]) == FIELDS
        assert figures[side]["p50_ms"] <= figures[side]["p99_ms"]
        assert figures[side]["rss_idle_mb"] > 0 and figures[side]["cpu_s_per_1000_msgs"] > 0
    assert figures["lost"] == 0
    for case in figures["cases"]:
        assert case["messages_sent"] == 30 + sum(step["sent"] for step in case["steps"])
        assert case["checks"]["unanswered"] == case["checks"]["customers_extra_replies"] == 0
    kefu = next(case for case in figures["cases"] if case["target"] == "kefu")
    assert {k: kefu["checks"][k] for k in ("lost", "stored_twice", "unprocessed", "failed_jobs")} == {
        "lost": 0,
        "stored_twice": 0,
        "unprocessed": 0,
        "failed_jobs": 0,
    }
