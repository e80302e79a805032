"""Jobs of the ingest path: pull an account's stream, process each new message."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, String, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from kefu.accounts.models import Connection, KfAccount
from kefu.accounts.service import account_and_connection, refresh_accounts, wecom_client
from kefu.accounts.sync import SYNC_TASK, enqueue_sync
from kefu.db import table_of
from kefu.ingest.models import CallbackEvent
from kefu.ingest.service import (
    PROCESS_TASK,
    REFRESH_ACCOUNTS_TASK,
    conversation_lock,
    record_callback,
    store_page,
)
from kefu.ingest.xml import parse_flat_xml
from kefu.jobs.current import finish_job_in
from kefu.jobs.queue import add_job
from kefu.jobs.registry import JobFailed, task
from kefu.logs import get_logger
from kefu.runtime import Runtime
from kefu.wecom.errors import WeComError
from kefu.wecom.payloads import SyncPage

log = get_logger(__name__)
INVALID_SYNC_TOKEN = 95007
MAX_PAGES_PER_RUN = 1000  # a safety bound; the next run continues from the stored cursor
SYNC_MARK_EVERY = timedelta(seconds=30)


class CursorMoved(RuntimeError):
    """Another sync committed a page first; this run's page is stale and is discarded."""


@task(SYNC_TASK, max_attempts=20, backoff_cap_s=300)
async def sync_account(rt: Runtime, *, account_id: int) -> None:
    """Pull until `has_more` is 0. Each page commits in ONE transaction: its messages
    (insert-or-ignore), the cursor that follows them, and a process job per new message."""
    account, connection = await rt.db.run_read(account_and_connection, account_id)
    if account is None or connection is None:
        return
    client = wecom_client(rt, connection)
    backfill = connection.bootstrap == "backfill"
    for n in range(MAX_PAGES_PER_RUN):
        # The first page starts from the account just read; later ones read it again.
        current = account if n == 0 else await rt.db.run_read(_account, account_id)
        cursor, token = _cursor_and_token(rt, account_id, current)
        try:
            page = await client.sync_msg(
                open_kfid=account.open_kfid, cursor=cursor, token=token, limit=rt.settings.sync_page_limit
            )
        except WeComError as exc:
            if exc.errcode == INVALID_SYNC_TOKEN and token:
                await _forget_token(rt, account_id, token)
                continue  # pull without the token (rate-limited, but it never loses messages)
            raise
        if not page.items and not page.has_more and page.next_cursor in (None, "", cursor):
            # Nothing new. The pull still succeeded: /metrics and /readyz measure sync lag from
            # last_synced_at, marked at most every SYNC_MARK_EVERY (callback storms wake many
            # empty pulls, and each would otherwise be a write).
            await _mark_synced(rt, account_id, account.last_synced_at)
            return
        stored = await rt.db.run_write(_store, account_id, cursor, page, backfill, rt.clock.now())
        if stored is None:
            return
        log.info(
            "sync.page", account_id=account_id, items=len(page.items), new=stored, has_more=page.has_more
        )
        if not page.has_more:
            return


def _account(session: Session, account_id: int) -> KfAccount | None:
    return session.get(KfAccount, account_id)


# Built once, on the table (Core: `table_of`): both run for every page. The account's connection
# time is read first, without a lock; the cursor moves last, and only if it is still the one
# the page was pulled from (NULL: the stream's start). On PostgreSQL that UPDATE locks the
# account row, which callbacks write too (the sync token): taken last, it is held only while
# the transaction commits, not while the page's messages and jobs are inserted.
_ACCOUNTS = table_of(KfAccount).c
_CONNECTED_AT = select(_ACCOUNTS.connected_at).where(_ACCOUNTS.id == bindparam("account_id"))
_ADVANCE_CURSOR = (
    update(table_of(KfAccount))
    .where(
        _ACCOUNTS.id == bindparam("account_id"),
        or_(
            _ACCOUNTS.sync_cursor == bindparam("pulled_from"),
            _ACCOUNTS.sync_cursor.is_(None) & bindparam("from_start", type_=Boolean()),
        ),
    )
    .values(
        sync_cursor=func.coalesce(bindparam("next_cursor", type_=String()), _ACCOUNTS.sync_cursor),
        last_synced_at=bindparam("now", type_=_ACCOUNTS.last_synced_at.type),
    )
)


def _store(
    session: Session, account_id: int, cursor: str | None, page: SyncPage, backfill: bool, now: datetime
) -> int | None:
    """One page in one transaction: its new messages, a process job each, the next cursor.
    Returns how many were new (None: the account is gone)."""
    connected_at = session.scalar(_CONNECTED_AT, {"account_id": account_id})
    if connected_at is None:
        return None
    stored = store_page(session, account_id, connected_at, page.items, backfill=backfill, now=now)
    for message in stored:
        add_job(
            session,
            PROCESS_TASK,
            {"message_id": message.id},
            now=now,
            lock=conversation_lock(account_id, message.external_userid),
        )
    advanced = session.execute(
        _ADVANCE_CURSOR,
        {
            "account_id": account_id,
            "pulled_from": cursor,
            "from_start": cursor is None,
            "next_cursor": page.next_cursor or None,
            "now": now,
        },
    )
    if advanced.rowcount != 1:  # type: ignore[attr-defined]
        # Another pull moved it (or the account went meanwhile): this page's rows roll back.
        raise CursorMoved(f"cursor of account {account_id} moved during the pull")
    if not page.has_more:
        finish_job_in(session, now)  # the pull's last write: the job completes with it
    return len(stored)


async def _mark_synced(rt: Runtime, account_id: int, last: datetime | None) -> None:
    now = rt.clock.now()
    if last is not None and now - last < SYNC_MARK_EVERY:
        return
    async with rt.db.write() as session:
        await session.execute(update(KfAccount).where(KfAccount.id == account_id).values(last_synced_at=now))


def _cursor_and_token(
    rt: Runtime, account_id: int, account: KfAccount | None
) -> tuple[str | None, str | None]:
    if account is None:
        raise JobFailed(f"account {account_id} was deleted")
    live = account.sync_token_expires_at is not None and account.sync_token_expires_at > rt.clock.now()
    return account.sync_cursor, (account.sync_token if live else None)


async def _forget_token(rt: Runtime, account_id: int, token: str) -> None:
    async with rt.db.write() as session:
        account = await session.get(KfAccount, account_id)
        if account is not None and account.sync_token == token:
            account.sync_token = None
            account.sync_token_expires_at = None


@task("ingest.retry_callback", max_attempts=10)
async def retry_callback(rt: Runtime, *, event_id: int) -> None:
    """Handle again a callback whose first handling failed after its signature checked out."""
    async with rt.db.write() as session:
        event = await session.get(CallbackEvent, event_id)
        if event is None or event.status == "done":
            return
        connection = await session.get(Connection, event.connection_id)
        if connection is None:
            event.status = "failed"
            return
        fields = parse_flat_xml(event.xml)
        now = rt.clock.now()
        await session.run_sync(record_callback, connection.id, fields, event.xml, now=now, row=event)


@task(REFRESH_ACCOUNTS_TASK, max_attempts=10)
async def refresh_accounts_task(rt: Runtime, *, connection_id: int) -> None:
    await refresh_accounts(rt, connection_id)


async def enqueue_sync_for_all(rt: Runtime) -> int:
    """Wake a sync for every account this app may manage (start-up and the low-rate poll)."""
    now = rt.clock.now()
    async with rt.db.write() as session:
        ids = (await session.scalars(select(KfAccount.id).where(KfAccount.authorized.is_(True)))).all()
        for account_id in ids:
            await session.run_sync(enqueue_sync, account_id, now=now)
    return len(ids)
