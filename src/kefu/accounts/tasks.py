"""Jobs that keep an account's servicers in step with WeCom."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import KfAccount
from kefu.accounts.servicers import refresh_servicers
from kefu.jobs.queue import enqueue
from kefu.jobs.registry import task
from kefu.runtime import Runtime

REFRESH_SERVICERS_TASK = "accounts.refresh_servicers"


def servicers_lock(account_id: int) -> str:
    return f"servicers:{account_id}"


async def enqueue_servicer_refresh(session: AsyncSession, account_id: int, *, now: datetime) -> int | None:
    """Re-read the account's kf/servicer/list soon (at most one waiting refresh per account).

    For when Kefu may have missed a change: a `servicer_status_change` for a userid it does not
    know, a servicer refused by WeCom (95014/95019), a reconnection."""
    lock = servicers_lock(account_id)
    return await enqueue(
        session, REFRESH_SERVICERS_TASK, {"account_id": account_id}, now=now, lock=lock, queueing_lock=lock
    )


@task(REFRESH_SERVICERS_TASK, max_attempts=8, backoff_cap_s=300)
async def refresh_servicers_job(rt: Runtime, *, account_id: int) -> None:
    async with rt.db.read() as session:
        if await session.get(KfAccount, account_id) is None:
            return  # deleted meanwhile: nothing to keep in step
    await refresh_servicers(rt, account_id)
