"""benchmarks/reports.py still runs against the current schema and code: a tiny run on SQLite
writes the figures README's benchmarks section quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_run_times_the_summary_and_the_page(tmp_path: Path) -> None:
    out = tmp_path / "reports.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "reports.py"),
            "--conversations",
            "60",
            "--runs",
            "1",
            "--sqlite-only",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "summary ms" in run.stdout
    [case] = json.loads(out.read_text())
    assert (case["database"], case["conversations"]) == ("sqlite", 60)
    assert case["sessions"] >= 60 and case["summary_ms"] > 0 and case["page_ms"] > 0
