"""`kefu jobs list|retry` (wired into the `kefu` command by kefu/cli.py)."""

from __future__ import annotations

from datetime import UTC

import typer

from kefu.cli_runtime import echo_json, fail, run_with_runtime
from kefu.jobs import service
from kefu.jobs.models import JOB_STATUSES
from kefu.jobs.schemas import JobOut

jobs_app = typer.Typer(help="See background jobs and run failed ones again.", no_args_is_help=True)


@jobs_app.command("list")
def list_command(
    status: str | None = typer.Option(None, "--status", help=f"One of: {', '.join(JOB_STATUSES)}."),
    limit: int = typer.Option(100, "--limit", min=1, help="How many of the newest jobs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the newest jobs (newest first)."""
    if status is not None and status not in JOB_STATUSES:
        raise typer.BadParameter(f"one of {', '.join(JOB_STATUSES)}", param_hint="--status")
    jobs = run_with_runtime(lambda rt: service.list_jobs(rt.db, status=status, limit=limit))
    if as_json:
        echo_json([JobOut.model_validate(job) for job in jobs])
        return
    if not jobs:
        typer.echo("No jobs.")
        return
    # Jobs belong to no account, so no account's zone: UTC, said so (as `kefu tokens|users list`
    # print UTC with its offset; the conversations' listings use the account's zone and name it).
    typer.echo(
        f"{'ID':>7}  {'STATUS':<9}  {'TRIES':>5}  {'TASK':<24}  {'RUN AT (UTC)':<19}  LOCK / LAST ERROR"
    )
    for job in jobs:
        detail = " | ".join(part for part in (job.lock, _one_line(job.last_error)) if part)
        typer.echo(
            f"{job.id:>7}  {job.status:<9}  {job.attempts:>2}/{job.max_attempts:<2}  {job.task:<24}  "
            f"{job.run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}  {detail}"
        )


@jobs_app.command("retry")
def retry_command(
    job_id: int | None = typer.Argument(None, help="The job to run again (failed or dropped)."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Run every failed job again."),
) -> None:
    """Run a failed or dropped job again, or every failed job."""
    if all_failed:
        if job_id is not None:
            raise typer.BadParameter("give a job ID or --all-failed, not both")
        count = run_with_runtime(lambda rt: service.retry_failed(rt.db, now=rt.clock.now()))
        typer.echo(f"{count} failed job(s) queued again.")
        return
    if job_id is None:
        raise typer.BadParameter("give a job ID or --all-failed")
    if not run_with_runtime(lambda rt: service.retry_job(rt.db, job_id, now=rt.clock.now())):
        fail(
            f"job {job_id} was not queued again: it does not exist, is not failed or dropped, "
            "or a job with the same queueing lock is already waiting"
        )
    typer.echo(f"Job {job_id} queued again.")


def _one_line(text: str | None, width: int = 80) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
