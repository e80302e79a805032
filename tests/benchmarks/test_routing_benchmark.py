"""benchmarks/routing.py still runs against the current schema and code: its smoke run
(`--quick`, a small grid on SQLite) in a few seconds, and the JSON it writes has the fields
issue #10 asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"servicers", "waiting", "database", "decision_p50_ms", "decision_p99_ms", "dispatch_round_ms"}


def test_the_quick_run_writes_one_object_per_case(tmp_path: Path) -> None:
    out = tmp_path / "routing.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "routing.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "decision p50" in run.stdout  # the table's header
    cases = json.loads(out.read_text())
    assert [(c["servicers"], c["waiting"], c["database"]) for c in cases] == [
        (10, 100, "sqlite"),
        (100, 1_000, "sqlite"),
    ]
    for case in cases:
        assert FIELDS <= case.keys()
        assert 0 < case["decision_p50_ms"] <= case["decision_p99_ms"]
        assert case["dispatch_round_ms"] > 0
        assert case["dispatch_picked"] == min(
            case["waiting"], case["servicers"] * 11 // 2
        )  # every free place
