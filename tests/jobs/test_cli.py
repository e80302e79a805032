"""`kefu jobs list|retry` through typer's CliRunner, on the test database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from kefu.clock import Clock
from kefu.db import Database
from kefu.jobs.cli import jobs_app
from kefu.jobs.worker import Worker
from kefu.runtime import Runtime
from kefu.secretbox import SecretBox
from kefu.settings import Settings, get_settings
from tests.jobs.helpers import add, job

pytestmark = pytest.mark.db

START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KEFU_ENV", "development")
    monkeypatch.setenv("KEFU_DATABASE_URL", database_url)
    monkeypatch.setenv("KEFU_CLOCK_START", START.isoformat())
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(work, database_url: str):  # type: ignore[no-untyped-def]
    """Run `work(rt)` on a Runtime of its own (the CLI runs its own event loops)."""

    async def main():  # type: ignore[no-untyped-def]
        clock = Clock(start=START)
        clock.freeze()
        settings = Settings(env="development", database_url=database_url)
        rt = Runtime(settings=settings, db=Database(database_url), clock=clock, secrets=SecretBox(b"test"))
        try:
            return await work(rt)
        finally:
            await rt.close()

    return asyncio.run(main())


def test_jobs_list_and_retry(cli: CliRunner, database_url: str) -> None:
    async def seed(rt: Runtime) -> tuple[int, int, int]:
        failed = await add(rt, "tests.give_up", args={"key": "a"}, lock="conversation:7")
        also_failed = await add(rt, "tests.give_up", args={"key": "b"})
        succeeded = await add(rt, "tests.record", args={"key": "c"})
        assert await Worker(rt).run_until_idle() == 3
        return failed, also_failed, succeeded

    failed, also_failed, succeeded = run(seed, database_url)

    listed = cli.invoke(jobs_app, ["list", "--status", "failed", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [row["id"] for row in rows] == [also_failed, failed]  # newest first
    assert rows[1]["last_error"] == "customer left (a)"
    assert (rows[1]["task"], rows[1]["lock"], rows[1]["attempts"]) == ("tests.give_up", "conversation:7", 1)

    table = cli.invoke(jobs_app, ["list"])
    assert table.exit_code == 0, table.output
    assert "conversation:7 | customer left (a)" in table.output
    assert "succeeded" in table.output and "tests.record" in table.output
    header, first = table.output.splitlines()[:2]
    assert "RUN AT (UTC)" in header  # the zone of the times below, said
    assert f"{START:%Y-%m-%d %H:%M:%S}" in first  # 02:00 UTC (10:00 in Shanghai)

    retried = cli.invoke(jobs_app, ["retry", str(failed)])
    assert retried.exit_code == 0, retried.output
    assert f"Job {failed} queued again." in retried.output
    again = cli.invoke(jobs_app, ["retry", str(succeeded)])
    assert again.exit_code == 2
    assert "was not queued again" in again.output

    rest = cli.invoke(jobs_app, ["retry", "--all-failed"])
    assert rest.exit_code == 0, rest.output
    assert "1 failed job(s) queued again." in rest.output

    async def statuses(rt: Runtime) -> list[tuple[str, int, object]]:
        return [
            ((row := await job(rt.db, i)).status, row.attempts, row.run_at) for i in (failed, also_failed)
        ]

    # run_at is "now" on the CLI's clock (KEFU_CLOCK_START, running since).
    for status, attempts, run_at in run(statuses, database_url):
        assert (status, attempts) == ("todo", 0)
        assert START <= run_at < START + timedelta(minutes=1)
    assert cli.invoke(jobs_app, ["list", "--status", "failed", "--json"]).output.strip() == "[]"


def test_jobs_cli_refuses_unclear_requests(cli: CliRunner) -> None:
    assert cli.invoke(jobs_app, ["retry"]).exit_code == 2
    assert cli.invoke(jobs_app, ["retry", "3", "--all-failed"]).exit_code == 2
    bad_status = cli.invoke(jobs_app, ["list", "--status", "stuck"])
    assert bad_status.exit_code == 2
    assert cli.invoke(jobs_app, ["list"]).output.strip() == "No jobs."
