"""The chaos run's CI size (`benchmarks/chaos.py --quick`: 500 messages, 5 kill -9's of Kefu
processes, then the backlog drained): nothing lost, processed twice, answered twice, assigned
over a cap or stuck — on SQLite, and on PostgreSQL (1 serve + 3 workers) when the suite runs there.

In the suite (CI runs it on SQLite and again on PostgreSQL): a case takes about two minutes of
wall time on the 2-core development machine (45 s of writing, the drain, which waits out the
30-second leases of the killed processes, and the checks), three at most. Leave it out of a
quick local run with `-m "not chaos"`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("KEFU_TEST_DATABASE_URL")
ZEROS = ("lost", "processed_twice", "duplicate_replies", "over_cap_assignments", "stuck_sessions")

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.e2e, pytest.mark.xdist_group("chaos")]


@pytest.mark.parametrize("faults", [False, True], ids=["no-faults", "faults"])
def test_quick_chaos_run_loses_and_doubles_nothing(tmp_path: Path, faults: bool) -> None:
    out = tmp_path / "chaos.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--quick", "--json", str(out)]
    if faults:
        argv.append("--faults")
    if PG_URL:
        # One database per case: under plain `-n` (without --dist loadgroup) both cases run at once.
        database = make_url(PG_URL).set(database=f"kefu_chaos_ci_{'faults' if faults else 'calm'}")
        argv += ["--database", "postgresql", "--pg-url", database.render_as_string(hide_password=False)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    figures = json.loads(out.read_text()) if out.exists() else {}
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    assert figures["messages_sent"] == 500 and figures["kills"] == 5
    assert figures["drained"]
    assert {key: figures[key] for key in ZEROS} == dict.fromkeys(ZEROS, 0)
    assert figures["faults_injected"] > 0 if faults else figures["faults_injected"] == 0
