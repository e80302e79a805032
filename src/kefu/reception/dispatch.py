"""Dispatch: when capacity may have appeared, assign waiting customers in queue order.

A round (`reception.dispatch`, at most one waiting per account) reads the account's pool
oldest first and plays the pure `decide(…, Dispatch())` over it with loads that grow as it
goes, so that it picks exactly the customers who fit, in order — a customer who waits for a
full servicer does not hold back the ones behind. Each pick becomes a `Dispatch` feed under
that conversation's lock, where the decision is made again on fresh loads (locked on
PostgreSQL) before anything is sent: the round only chooses whom to try, never assigns.

Rounds are asked for when a servicer's human session ends, when a servicer comes on duty (or
stops: customers waiting for them fall back by the rules), when a customer enters the pool (room
may have freed while their trans → 2 was on its way), when the servicer list is written or read
again from WeCom (an added servicer, a raised cap), and by the sweep every
`KEFU_POLL_INTERVAL_S` for every account with customers waiting — which also covers a reception
period starting and any missed trigger, so nobody stays queued next to an idle servicer.
Outside reception hours a round does nothing.
"""

from __future__ import annotations

import asyncio

from kefu.accounts.models import KfAccount
from kefu.accounts.sync import DISPATCH_TASK, request_dispatch
from kefu.crm.identity import exclusive_servicers
from kefu.jobs.periodic import run_every_poll_interval
from kefu.jobs.registry import task
from kefu.logs import get_logger
from kefu.reception import service
from kefu.reception.core import Dispatch
from kefu.reception.core.dispatch import WaitingCustomer, plan_round
from kefu.reception.pool import ACCOUNTS_WITH_A_POOL, in_queue_order
from kefu.reception.shell import add_feed
from kefu.runtime import Runtime

log = get_logger(__name__)


@task(DISPATCH_TASK, max_attempts=5, backoff_cap_s=60)
async def dispatch_round(rt: Runtime, *, account_id: int) -> None:
    now = rt.clock.now()
    async with rt.db.write() as session:
        account = await session.get(KfAccount, account_id)
        if account is None:
            return
        settings = await service.load_account_settings(session, account)
        if not settings.enabled or not settings.calendar.is_open(now):
            return
        waiting = await in_queue_order(session, account_id)
        if not waiting:
            return
        exclusive = await session.run_sync(
            exclusive_servicers, account.connection_id, [c.external_userid for c in waiting]
        )
        roster = await session.run_sync(service.roster, account, settings, waiting[0])
        line = [WaitingCustomer(c.id, service.state_of(c), exclusive.get(c.external_userid)) for c in waiting]
        by_id = {c.id: c for c in waiting}
        picks = plan_round(line, settings, roster, now)
        for key, _servicer in picks:
            await session.run_sync(add_feed, by_id[key], account_id, Dispatch(), now=now)
        picked = len(picks)
    if picked:
        log.info("dispatch.round", account_id=account_id, waiting=len(waiting), picked=picked)


async def sweep(rt: Runtime) -> int:
    """Ask for a round in every account with customers waiting; returns how many."""
    now = rt.clock.now()
    async with rt.db.write() as session:
        ids = (await session.scalars(ACCOUNTS_WITH_A_POOL)).all()
        for account_id in ids:
            await session.run_sync(request_dispatch, account_id, now=now)
    return len(ids)


async def run_dispatch_sweep(rt: Runtime, stop: asyncio.Event) -> None:
    """The safety net beside the triggers: every poll interval, no pool is forgotten."""
    await run_every_poll_interval(rt, stop, sweep, name="dispatch.sweep")
