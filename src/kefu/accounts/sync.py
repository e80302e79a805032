"""Asking for an account's pull: at most one waiting `ingest.sync` job per account.

It lives with the account (below kefu.ingest, which runs the pull) so that adding or re-authorising
an account can ask for a pull without importing the ingest path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kefu.jobs.queue import add_job

SYNC_TASK = "ingest.sync"


def sync_lock(account_id: int) -> str:
    return f"sync:{account_id}"


def enqueue_sync(session: Session, account_id: int, *, now: datetime) -> int | None:
    """One waiting sync per account at most: callbacks and polls coalesce into it."""
    lock = sync_lock(account_id)
    return add_job(session, SYNC_TASK, {"account_id": account_id}, now=now, lock=lock, queueing_lock=lock)
