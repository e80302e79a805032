"""Real worker processes: a killed worker's job is reclaimed; two workers never run a job twice,
nor do four whose domain clocks jump by hours (leases run on the database's clock)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kefu.jobs.models import Job
from kefu.jobs.worker import Worker, reap
from kefu.runtime import Runtime
from tests.jobs.helpers import add, eventually, job

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]


def spawn(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A Python process in the project root (so `tests.jobs` imports), stderr kept for failures."""
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def start_worker(rt: Runtime, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return spawn("-m", "tests.jobs.worker_process", rt.db.url, rt.clock.now().isoformat(), *args, env=env)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_killed_workers_job_is_reclaimed_and_completed_by_another(
    rt: Runtime, tmp_path: Path
) -> None:
    record = tmp_path / "executions"
    blocked = await add(rt, "tests.block", args={"path": str(record)})  # lease 6 s, kept by heartbeat
    process = start_worker(rt, "forever", env={"KEFU_TEST_BLOCK": "1"})
    try:
        await eventually(lambda: bool(lines(record)), within_s=60)
        row = await job(rt.db, blocked)
        assert (row.status, row.attempts) == ("doing", 1)
        assert row.worker_id is not None and row.worker_id.split(":")[1] == str(process.pid)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    assert await Worker(rt).run_until_idle() == 0  # still leased: nobody else may take it
    assert await reap(rt) == 0
    # Moving the domain clock back a day keeps nothing: the lease runs out on real time.
    rt.clock.advance(timedelta(days=-1))
    await eventually(lambda: reap(rt), within_s=20)
    assert await Worker(rt).run_until_idle() == 1
    row = await job(rt.db, blocked)
    assert (row.status, row.attempts) == ("succeeded", 2)
    assert lines(record) == [str(process.pid), str(os.getpid())]


async def test_two_worker_processes_never_run_a_job_twice(rt: Runtime, tmp_path: Path) -> None:
    record = tmp_path / "executions"
    expected = []
    for i in range(60):
        key = f"job{i}"
        # Some jobs share one of eight locks, to race ordering across processes too.
        lock = f"conversation:{i % 8}" if i % 5 < 2 else None
        # 20 ms each: one worker alone needs ~0.3 s for them all, time enough for the other to
        # wake from its 10 ms poll of "go" on a loaded machine (with 2 ms, one sometimes ran all).
        await add(rt, "tests.count", args={"path": str(record), "key": key, "seconds": 0.02}, lock=lock)
        expected.append((key, lock))

    workers = [start_worker(rt, "idle", str(tmp_path)) for _ in range(2)]
    try:
        await eventually(lambda: len(list(tmp_path.glob("ready-*"))) == 2, within_s=60)
        (tmp_path / "go").touch()
        for process in workers:
            _, stderr = await asyncio.to_thread(process.communicate, timeout=60)
            assert process.returncode == 0, stderr.decode()
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()

    runs = [line.split() for line in lines(record)]
    assert Counter(key for key, _ in runs) == Counter(key for key, _ in expected)  # each exactly once
    by_process = Counter(pid for _, pid in runs)
    assert set(by_process) == {str(process.pid) for process in workers}  # both took part
    order = [key for key, _ in runs]
    for n in range(8):
        same_lock = [key for key, lock in expected if lock == f"conversation:{n}"]
        assert [key for key in order if key in same_lock] == same_lock  # creation order held
    async with rt.db.read() as session:
        statuses = (await session.execute(select(Job.status, Job.attempts))).all()
    assert set(statuses) == {("succeeded", 1)}


async def test_four_workers_whose_clocks_jump_never_run_a_job_twice(rt: Runtime, tmp_path: Path) -> None:
    """Each worker's domain clock jumps between an hour back and two days ahead every 10 ms, and
    each reaps every 20 ms: on the domain clock, one worker would reap another's live leases."""
    record = tmp_path / "executions"
    expected = []
    for i in range(80):
        key = f"job{i}"
        lock = f"conversation:{i % 8}" if i % 5 < 2 else None
        # 50 ms each: leases stay live across many jumps and reaps.
        await add(rt, "tests.count", args={"path": str(record), "key": key, "seconds": 0.05}, lock=lock)
        expected.append((key, lock))

    async def all_done() -> bool:
        async with rt.db.read() as session:
            open_jobs = await session.execute(select(Job.id).where(Job.status.in_(("todo", "doing"))))
            return not open_jobs.first()

    workers = [start_worker(rt, "jumpy", str(tmp_path)) for _ in range(4)]
    try:
        await eventually(lambda: len(list(tmp_path.glob("ready-*"))) == 4, within_s=60)
        (tmp_path / "go").touch()
        await eventually(all_done, within_s=30)
        (tmp_path / "stop").touch()
        for process in workers:
            _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
            assert process.returncode == 0, stderr.decode()
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()

    runs = [line.split() for line in lines(record)]
    assert Counter(key for key, _ in runs) == Counter(key for key, _ in expected)  # each exactly once
    assert len({pid for _, pid in runs}) >= 2  # they ran side by side
    order = [key for key, _ in runs]
    for n in range(8):
        same_lock = [key for key, lock in expected if lock == f"conversation:{n}"]
        assert [key for key in order if key in same_lock] == same_lock  # creation order held
    async with rt.db.read() as session:
        rows = (await session.execute(select(Job.status, Job.attempts, Job.last_error))).all()
    assert set(rows) == {("succeeded", 1, None)}


async def test_worker_command_runs_jobs_until_sigterm(rt: Runtime, tmp_path: Path) -> None:
    record = tmp_path / "executions"
    queued = await add(rt, "tests.count", args={"path": str(record), "key": "cli"})
    code = "import typer, tests.jobs.sample_tasks\nfrom kefu.cli import worker\ntyper.run(worker)"
    env = {"KEFU_DATABASE_URL": rt.db.url, "KEFU_CLOCK_START": rt.clock.now().isoformat()}
    process = spawn("-c", code, "--concurrency", "2", env={"KEFU_ENV": "development", **env})
    try:
        await eventually(lambda: bool(lines(record)), within_s=60)

        async def recorded() -> bool:
            return (await job(rt.db, queued)).status == "succeeded"

        await eventually(recorded, within_s=20)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=15)
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert lines(record) == [f"cli {process.pid}"]
