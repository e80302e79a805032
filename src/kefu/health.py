"""What /metrics and /readyz read from the database.

The figures that must be right whichever process answers — jobs, sessions, the pool, sync lag,
workers — are read at scrape time from the database, which every process shares; the counters
of events (callbacks, WeCom calls, AI answers) are this process's own (`kefu.metrics`).

Every query is bounded by what is open, not by history, and answered from an index:
jobs by status (`ix_jobs_runnable`; `succeeded` is left out: it is every job ever run),
sessions and the pool from `ix_conversations_state_account` over states 0–3 only, accounts and
worker heartbeats by their own (small) tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kefu import metrics
from kefu.accounts.models import KfAccount
from kefu.jobs.models import Job, WorkerHeartbeat
from kefu.logs import get_logger
from kefu.reception.models import Conversation
from kefu.runtime import Runtime

log = get_logger(__name__)

OPEN_JOB_STATUSES = ("todo", "doing", "failed", "dropped")
STATE_ENDED = 4
STATE_POOL = 2
DATABASE_TIMEOUT_S = 5.0


@dataclass
class Figures:
    now: datetime
    jobs: dict[str, int] = field(default_factory=dict)
    oldest_due_job: datetime | None = None
    sessions: dict[tuple[int, int], int] = field(default_factory=dict)  # (account, state) → count
    pool: dict[int, tuple[int, datetime | None]] = field(default_factory=dict)  # account → (len, oldest)
    last_synced: dict[int, datetime] = field(default_factory=dict)  # enabled, authorised accounts
    workers_seen: list[datetime] = field(default_factory=list)


async def read_figures(session: AsyncSession, now: datetime) -> Figures:
    figures = Figures(now=now)
    by_status = await session.execute(
        select(Job.status, func.count()).where(Job.status.in_(OPEN_JOB_STATUSES)).group_by(Job.status)
    )
    figures.jobs = {status: 0 for status in OPEN_JOB_STATUSES} | {status: n for status, n in by_status.all()}
    figures.oldest_due_job = await session.scalar(
        select(func.min(Job.run_at)).where(Job.status == "todo", Job.run_at <= now)
    )
    by_state = await session.execute(
        select(Conversation.account_id, Conversation.wecom_state, func.count())
        .where(Conversation.wecom_state < STATE_ENDED)
        .group_by(Conversation.account_id, Conversation.wecom_state)
    )
    figures.sessions = {(account, state): n for account, state, n in by_state.all()}
    pools = await session.execute(
        select(Conversation.account_id, func.count(), func.min(Conversation.queued_at))
        .where(Conversation.wecom_state == STATE_POOL)
        .group_by(Conversation.account_id)
    )
    figures.pool = {account: (n, oldest) for account, n, oldest in pools.all()}
    synced = await session.execute(
        select(KfAccount.id, func.coalesce(KfAccount.last_synced_at, KfAccount.connected_at)).where(
            KfAccount.enabled.is_(True), KfAccount.authorized.is_(True)
        )
    )
    figures.last_synced = {account: _aware(at) for account, at in synced.all()}
    figures.workers_seen = list((await session.scalars(select(WorkerHeartbeat.seen_at))).all())
    return figures


def _aware(value: Any) -> datetime:
    # coalesce() loses the column type on SQLite: the value may come back as text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class _Figures(Collector):
    def __init__(self, figures: Figures, worker_max_age_s: float) -> None:
        self.figures = figures
        self.worker_max_age_s = worker_max_age_s

    def collect(self) -> Iterator[GaugeMetricFamily]:
        f, now = self.figures, self.figures.now
        jobs = GaugeMetricFamily(
            "kefu_jobs", "Jobs by status (succeeded left out: every job ever run).", labels=["status"]
        )
        for status, n in sorted(f.jobs.items()):
            jobs.add_metric([status], n)
        yield jobs
        yield GaugeMetricFamily(
            "kefu_jobs_oldest_due_age_seconds",
            "How long the oldest due todo job has been waiting to run (0: none waits).",
            value=_age(now, f.oldest_due_job),
        )
        sessions = GaugeMetricFamily(
            "kefu_sessions",
            "Open sessions by account and WeCom state (0 new, 1 AI, 2 pool, 3 human).",
            labels=["account_id", "state"],
        )
        for (account, state), n in sorted(f.sessions.items()):
            sessions.add_metric([str(account), str(state)], n)
        yield sessions
        pool = GaugeMetricFamily(
            "kefu_pool_length", "Customers in the pool by account.", labels=["account_id"]
        )
        wait = GaugeMetricFamily(
            "kefu_pool_longest_wait_seconds",
            "How long the longest-waiting customer of the pool has waited, by account.",
            labels=["account_id"],
        )
        for account, (n, oldest) in sorted(f.pool.items()):
            pool.add_metric([str(account)], n)
            wait.add_metric([str(account)], _age(now, _aware(oldest) if oldest else None))
        yield pool
        yield wait
        lag = GaugeMetricFamily(
            "kefu_sync_lag_seconds",
            "Time since the last successful pull of each enabled, authorised account.",
            labels=["account_id"],
        )
        for account, at in sorted(f.last_synced.items()):
            lag.add_metric([str(account)], _age(now, at))
        yield lag
        cutoff = now - timedelta(seconds=self.worker_max_age_s)
        yield GaugeMetricFamily(
            "kefu_workers_alive",
            "Workers whose heartbeat is within KEFU_READY_WORKER_MAX_AGE_S.",
            value=sum(1 for seen in f.workers_seen if _aware(seen) >= cutoff),
        )
        yield GaugeMetricFamily(
            "kefu_worker_heartbeat_age_seconds",
            "Time since the freshest worker heartbeat (-1: none on record; a clean stop removes it).",
            value=min((_age(now, _aware(seen)) for seen in f.workers_seen), default=-1.0),
        )


async def metrics_text(rt: Runtime) -> bytes:
    """This process's counters, then the database's figures, in Prometheus' text format.
    Without a database the counters are still served, with `kefu_database_up 0`."""
    registry = CollectorRegistry(auto_describe=False)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_S), rt.db.read() as session:
            figures = await read_figures(session, rt.clock.now())
    except Exception as exc:  # the scrape must still show what this process counted
        log.warning("metrics.database_unreachable", error=f"{type(exc).__name__}: {exc}")
        registry.register(_DatabaseUp(False))
    else:
        registry.register(_DatabaseUp(True))
        registry.register(_Figures(figures, rt.settings.ready_worker_max_age_s))
    return metrics.exposition() + generate_latest(registry)


class _DatabaseUp(Collector):
    def __init__(self, up: bool) -> None:
        self.up = up

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "kefu_database_up", "1 when the database answered this scrape's queries.", value=int(self.up)
        )


async def readiness(rt: Runtime) -> dict[str, str]:
    """Each check's verdict: "ok", or why not. Ready when every one is "ok"."""
    now = rt.clock.now()
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_S), rt.db.read() as session:
            await session.execute(text("SELECT 1"))
            figures = await read_figures(session, now)
    except Exception as exc:  # whatever keeps us from the database makes us unready
        log.warning("readyz.database_unreachable", error=f"{type(exc).__name__}: {exc}")
        return {"database": f"unreachable: {type(exc).__name__}"}  # nothing else can be checked
    checks = {"database": "ok"}
    max_age = rt.settings.ready_worker_max_age_s
    freshest = min((_age(now, _aware(seen)) for seen in figures.workers_seen), default=None)
    if freshest is None:
        checks["worker"] = "no worker has a heartbeat"
    elif freshest > max_age:
        checks["worker"] = f"last worker heartbeat {freshest:.0f} s ago (limit {max_age:.0f} s)"
    else:
        checks["worker"] = "ok"
    limit = rt.settings.ready_max_sync_lag_s
    lagging = {account: _age(now, at) for account, at in figures.last_synced.items()}
    lagging = {account: lag for account, lag in lagging.items() if lag > limit}
    if lagging:
        listed = ", ".join(f"account {a}: {lag:.0f} s" for a, lag in sorted(lagging.items()))
        checks["sync"] = f"sync lag over {limit:.0f} s: {listed}"
    else:
        checks["sync"] = "ok"
    return checks
