"""`kefu config export --out` writes the knowledge bases beside the file (kb/*.csv) as it writes
the file itself: each whole or not at all, so a disk that fills up half-way (or a crash) never
leaves a truncated CSV beside a complete YAML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kefu.accounts.knowledge_base import put_entries
from kefu.ai.knowledge import KnowledgeEntry
from kefu.runtime import Runtime
from kefu.settings import Settings
from tests.accounts.fixtures import ACliFn, cli_env
from tests.factories import make_account, make_connection
from tests.reports.test_cli import SMALL_DISK

pytestmark = pytest.mark.db


async def _account_with_knowledge(rt: Runtime) -> str:
    """An account whose knowledge base exports as some 4 KiB of CSV; its kb/ file's name."""
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    entries = [KnowledgeEntry(id=f"k{i}", question=f"问题{i}", answer="答" * 60) for i in range(20)]
    async with rt.db.write() as session:
        await put_entries(session, account.id, entries, replace=False, now=rt.clock.now())
    return f"{connection.name}-{account.open_kfid}.csv"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs RLIMIT_FSIZE (POSIX)")
async def test_a_knowledge_base_cut_off_half_way_leaves_yesterdays_file_whole(
    rt: Runtime, settings: Settings, acli: ACliFn, tmp_path: Path
) -> None:
    """kb/*.csv was written in place: a write cut off by a full disk truncated the one the last
    export left there, and the kefu.yaml beside it still named it."""
    name = await _account_with_knowledge(rt)
    out = tmp_path / "kefu.yaml"
    assert (await acli("config", "export", "--out", str(out))).exit_code == 0
    kb = tmp_path / "kb" / name
    yesterday = kb.read_bytes()
    assert len(yesterday) > 4000 and b"k19," in yesterday
    async with rt.db.write() as session:  # today's export differs
        entry = KnowledgeEntry(id="k0", question="问题0", answer="新的答案")
        await put_entries(session, 1, [entry], replace=False, now=rt.clock.now())
    process = subprocess.run(  # noqa: ASYNC221 — a short process the test waits for
        [sys.executable, "-c", SMALL_DISK, "config", "export", "--out", str(out)],
        env={**os.environ, **cli_env(settings)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (process.returncode, process.stderr) == (2, f"error: cannot write {kb}: File too large\n")
    assert kb.read_bytes() == yesterday
    assert sorted(p.name for p in kb.parent.iterdir()) == [name]  # no temporary file left
