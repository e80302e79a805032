"""benchmarks/console_pages.py still walks every console page: a quick run on SQLite answers
each one (a page that errors or is missing from the walk fails here, not in the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The pages the latency target is about: each must be in the walk.
MAIN_PAGES = (
    "/console/",
    "/console/workbench/pool",
    "/console/workbench/sessions",
    "/console/reports",
    "/console/knowledge",
    "/console/accounts/1",
    "/console/audit",
)


def test_a_quick_run_answers_every_page(tmp_path: Path) -> None:
    out = tmp_path / "pages.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "console_pages.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "left out" not in run.stdout, run.stdout  # every page answered 200 with a seeded id
    result = json.loads(out.read_text())
    walked = {row["path"] for row in result["pages"]}
    assert set(MAIN_PAGES) <= walked
    assert all(0 < row["p50_ms"] <= row["p99_ms"] for row in result["pages"])
