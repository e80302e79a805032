"""`kefu jobs list|retry` and `kefu worker` (wired into the `kefu` command by kefu/cli.py)."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import typer

from kefu.clock import clock_from_settings
from kefu.db import Database
from kefu.jobs import service
from kefu.jobs.models import JOB_STATUSES, Job
from kefu.jobs.registry import discover_tasks
from kefu.jobs.worker import Worker
from kefu.logs import configure_logging, get_logger
from kefu.runtime import Runtime
from kefu.settings import ConfigurationError, Settings, get_settings

jobs_app = typer.Typer(help="See background jobs and run failed ones again.", no_args_is_help=True)
log = get_logger("kefu.jobs")


@jobs_app.command("list")
def list_command(
    status: str | None = typer.Option(None, "--status", help=f"One of: {', '.join(JOB_STATUSES)}."),
    limit: int = typer.Option(100, "--limit", min=1, help="How many of the newest jobs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the newest jobs (newest first)."""
    if status is not None and status not in JOB_STATUSES:
        raise typer.BadParameter(f"one of {', '.join(JOB_STATUSES)}", param_hint="--status")
    jobs = asyncio.run(_with_db(get_settings(), lambda db: service.list_jobs(db, status=status, limit=limit)))
    if as_json:
        typer.echo(json.dumps([_as_dict(job) for job in jobs], ensure_ascii=False, indent=2))
        return
    if not jobs:
        typer.echo("No jobs.")
        return
    typer.echo(f"{'ID':>7}  {'STATUS':<9}  {'TRIES':>5}  {'TASK':<24}  {'RUN AT':<19}  LOCK / LAST ERROR")
    for job in jobs:
        detail = " | ".join(part for part in (job.lock, _one_line(job.last_error)) if part)
        typer.echo(
            f"{job.id:>7}  {job.status:<9}  {job.attempts:>2}/{job.max_attempts:<2}  {job.task:<24}  "
            f"{job.run_at:%Y-%m-%d %H:%M:%S}  {detail}"
        )


@jobs_app.command("retry")
def retry_command(
    job_id: int | None = typer.Argument(None, help="The job to run again (failed or dropped)."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Run every failed job again."),
) -> None:
    """Run a failed or dropped job again, or every failed job."""
    if (job_id is None) == (not all_failed):
        raise typer.BadParameter("give a job ID or --all-failed (one of them)")
    settings = get_settings()
    now = clock_from_settings(settings).now()
    if all_failed:
        count = asyncio.run(_with_db(settings, lambda db: service.retry_failed(db, now=now)))
        typer.echo(f"{count} failed job(s) queued again.")
        return
    assert job_id is not None
    if not asyncio.run(_with_db(settings, lambda db: service.retry_job(db, job_id, now=now))):
        typer.echo(
            f"Job {job_id} was not queued again: it does not exist, is not failed or dropped, "
            "or a job with the same queueing lock is already waiting.",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Job {job_id} queued again.")


def worker_command(
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Jobs run at the same time."),
) -> None:
    """Run background jobs until interrupted (SIGINT/SIGTERM)."""
    settings = get_settings()
    try:
        settings.check()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_json)
    tasks = discover_tasks()
    log.info("jobs.tasks_loaded", tasks=tasks)
    asyncio.run(_run_worker(settings, concurrency))


async def _run_worker(settings: Settings, concurrency: int) -> None:
    rt = Runtime.build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await Worker(rt, concurrency=concurrency).run(stop)
    finally:
        await rt.close()


async def _with_db(settings: Settings, action: Any) -> Any:
    db = Database(settings.database_url)
    try:
        return await action(db)
    finally:
        await db.dispose()


def _as_dict(job: Job) -> dict[str, Any]:
    when = {
        name: value.isoformat() if value else None
        for name, value in (
            ("run_at", job.run_at),
            ("deadline", job.deadline),
            ("locked_until", job.locked_until),
            ("created_at", job.created_at),
            ("finished_at", job.finished_at),
        )
    }
    return {
        "id": job.id,
        "task": job.task,
        "args": job.args,
        "status": job.status,
        "lock": job.lock,
        "queueing_lock": job.queueing_lock,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "worker_id": job.worker_id,
        "last_error": job.last_error,
        **when,
    }


def _one_line(text: str | None, width: int = 80) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
