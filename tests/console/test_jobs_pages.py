"""失败任务 page: failed and dropped jobs with their last error; 重试 puts one back to todo with
fresh attempts (the jobs kit's retry) and the audit log records who did it."""

from __future__ import annotations

from kefu.audit.log import list_events
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from tests.console.conftest import SignIn, csrf_of


async def _job(rt: Runtime, status: str, error: str) -> int:
    now = rt.clock.now()
    async with rt.db.write() as session:
        row = Job(
            task="wecom.sync_messages",
            args={"connection_id": 1},
            status=status,
            run_at=now,
            attempts=10,
            max_attempts=10,
            last_error=error,
            created_at=now,
            finished_at=now,
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_an_admin_sees_a_failed_job_and_retries_it(rt: Runtime, signed_in: SignIn) -> None:
    failed = await _job(rt, "failed", "WeComError: 40014 invalid access_token")
    await _job(rt, "dropped", "deadline passed")
    admin = await signed_in("admin")
    page = await admin.get("/console/jobs")
    assert page.status_code == 200
    assert "40014 invalid access_token" in page.text and "deadline passed" not in page.text
    dropped = await admin.get("/console/jobs?status=dropped")
    assert "deadline passed" in dropped.text
    retried = await admin.post(f"/console/jobs/{failed}/retry", data={"csrf_token": csrf_of(page)})
    assert retried.status_code == 303 and "retried" in retried.headers["location"]
    async with rt.db.read() as session:
        row = await session.get(Job, failed)
        assert row is not None and (row.status, row.attempts, row.finished_at) == ("todo", 0, None)
        events, _ = await list_events(session, target=f"job:{failed}")
    assert [e.action for e in events] == ["job.retry"] and events[0].changes["status"] == ["failed", "todo"]
    again = await admin.post(f"/console/jobs/{failed}/retry", data={"csrf_token": csrf_of(page)})
    assert "not_retried" in again.headers["location"]
    after = await admin.get("/console/jobs")
    assert "40014" not in after.text


async def test_supervisors_cannot_open_failed_jobs(signed_in: SignIn) -> None:
    supervisor = await signed_in("supervisor")
    assert (await supervisor.get("/console/jobs")).status_code == 403
