"""Asking for an account's pull, and for a fresh read of its servicer list: at most one waiting
job of each per account.

They live here, below the code that runs them (kefu.ingest, kefu.accounts.tasks), so that adding
or re-authorising an account, or an event about an unknown servicer, can ask for them without
importing that code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kefu.jobs.queue import add_job

SYNC_TASK = "ingest.sync"
REFRESH_SERVICERS_TASK = "accounts.refresh_servicers"


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
