"""失败任务: background jobs that failed (out of attempts) or were dropped (past their deadline),
with their last error, and a retry button (the jobs kit's retry: todo now, fresh attempts)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kefu.api.deps import IdPath
from kefu.audit.log import record
from kefu.console.menu import ADMIN
from kefu.console.web import Viewer, console_actor, form, redirect, render, role, runtime_of
from kefu.jobs.models import Job
from kefu.jobs.service import RETRYABLE, list_jobs, retry_in

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(role(*ADMIN))]
SHOWN = 200  # the newest; older ones are for `kefu jobs list`


@router.get("/console/jobs")
async def jobs_page(
    request: Request, viewer: Admin, status: Annotated[Literal["failed", "dropped"], Query()] = "failed"
) -> Response:
    jobs = await list_jobs(runtime_of(request).db, status=status, limit=SHOWN)
    return render(request, "jobs.html", jobs=jobs, status=status, statuses=RETRYABLE, shown=SHOWN)


@router.post("/console/jobs/{job_id}/retry")
async def retry(request: Request, job_id: IdPath, viewer: Admin) -> Response:
    await form(request, viewer)
    rt = runtime_of(request)
    now = rt.clock.now()
    async with rt.db.write() as session:
        job = await session.get(Job, job_id)
        status = job.status if job is not None else None
        retried = await retry_in(session, job_id, now=now)
        if retried and job is not None:
            await record(
                session,
                actor=console_actor(viewer),
                action="job.retry",
                target=f"job:{job_id}",
                before={"status": status, "task": job.task},
                after={"status": "todo", "task": job.task},
                now=now,
            )
    back = f"/console/jobs?status={status}" if status in RETRYABLE else "/console/jobs"
    return redirect(f"{back}{'&' if '?' in back else '?'}{'retried' if retried else 'not_retried'}={job_id}")
