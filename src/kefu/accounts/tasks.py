"""Jobs that keep an account's servicers in step with WeCom."""

from __future__ import annotations

from kefu.accounts.models import KfAccount
from kefu.accounts.servicers import refresh_servicers
from kefu.accounts.sync import REFRESH_SERVICERS_TASK
from kefu.jobs.registry import task
from kefu.runtime import Runtime


@task(REFRESH_SERVICERS_TASK, max_attempts=8, backoff_cap_s=300)
async def refresh_servicers_job(rt: Runtime, *, account_id: int) -> None:
    async with rt.db.read() as session:
        if await session.get(KfAccount, account_id) is None:
            return  # deleted meanwhile: nothing to keep in step
    await refresh_servicers(rt, account_id)
