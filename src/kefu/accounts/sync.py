"""Asking for an account's pull, for a fresh read of its servicer list and for a dispatch round:
at most one waiting job of each per account.

They live here, below the code that runs them (kefu.ingest, kefu.accounts.tasks,
kefu.reception.dispatch), so that adding or re-authorising an account, an event about an unknown
servicer, or a change to the servicer list can ask for them without importing that code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.jobs.queue import add_job

SYNC_TASK = "ingest.sync"
REFRESH_SERVICERS_TASK = "accounts.refresh_servicers"
DISPATCH_TASK = "reception.dispatch"


def sync_lock(account_id: int) -> str:
    return f"sync:{account_id}"


def enqueue_sync(session: Session, account_id: int, *, now: datetime) -> int | None:
    """One waiting sync per account at most: callbacks and polls coalesce into it."""
    lock = sync_lock(account_id)
    return add_job(session, SYNC_TASK, {"account_id": account_id}, now=now, lock=lock, queueing_lock=lock)


def servicers_lock(account_id: int) -> str:
    return f"servicers:{account_id}"


def enqueue_servicer_refresh(session: Session, account_id: int, *, now: datetime) -> int | None:
    """Re-read the account's kf/servicer/list soon: a new or re-authorised account (routing needs
    its servicers before the first customer asks for a human), or a status event for a userid
    Kefu does not know."""
    lock = servicers_lock(account_id)
    return add_job(
        session, REFRESH_SERVICERS_TASK, {"account_id": account_id}, now=now, lock=lock, queueing_lock=lock
    )


def dispatch_lock(account_id: int) -> str:
    return f"dispatch:{account_id}"


def request_dispatch(session: Session, account_id: int, *, now: datetime) -> None:
    """Ask for a dispatch round of the account (coalesced with one already waiting)."""
    lock = dispatch_lock(account_id)
    add_job(session, DISPATCH_TASK, {"account_id": account_id}, now=now, lock=lock, queueing_lock=lock)


def request_dispatch_for_connection(
    session: Session, connection_id: int, *, now: datetime, among: Select[int] | None = None
) -> None:
    """Room may have appeared for a servicer (a session ended, a status changed, the list was
    written): ask a round of each of the corp's accounts, since a servicer's load counts across
    them, so that waiting customers need not wait for the sweep. `among`: only those account ids
    (the reception passes the ones with a pool, kefu.reception.pool); else every one, as a round
    over an empty pool reads one query and stops."""
    query = select(KfAccount.id).where(KfAccount.connection_id == connection_id)
    if among is not None:
        query = query.where(KfAccount.id.in_(among))
    for account_id in session.scalars(query).all():
        request_dispatch(session, account_id, now=now)
