"""Domain operations of the ingest path. Services take a session and never commit.

Recording a callback is synchronous (a plain Session) because it runs on the callback
recorder's hot path through `db.run_write`; from async code, use `session.run_sync`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.accounts.sync import enqueue_sync
from kefu.db import table_of
from kefu.ingest.models import CallbackEvent, Message
from kefu.jobs.queue import add_job
from kefu.wecom.payloads import SyncItem

SYNC_TOKEN_TTL = timedelta(minutes=10)  # wecom-kf-api.md §2.5
# An account first seen through a callback: the message that woke us was sent just before
# the callback's CreateTime, so the bootstrap boundary goes back a little (never further than
# FIRST_SEEN_MAX_LOOKBACK, since CreateTime is not trusted).
FIRST_SEEN_SLACK = timedelta(seconds=60)
FIRST_SEEN_MAX_LOOKBACK = timedelta(minutes=10)
PROCESS_TASK = "ingest.process"
REFRESH_ACCOUNTS_TASK = "ingest.refresh_accounts"


def conversation_lock(account_id: int, external_userid: str | None) -> str:
    """Messages of one conversation are processed one at a time, in stream order."""
    if external_userid:
        return f"conversation:{account_id}:{external_userid}"
    return f"account:{account_id}"


def first_seen_boundary(fields: dict[str, str], now: datetime) -> datetime:
    """Where bootstrap ends for an account first seen in this callback: a customer's first
    message after setup must never be skipped just because its callback was our first sight."""
    try:
        created = datetime.fromtimestamp(int(fields.get("CreateTime") or ""), UTC)
    except (ValueError, OverflowError, OSError):
        created = now
    return max(min(created, now) - FIRST_SEEN_SLACK, now - FIRST_SEEN_MAX_LOOKBACK)


def get_or_create_account(
    session: Session,
    connection_id: int,
    open_kfid: str,
    *,
    now: datetime,
    connected_at: datetime | None = None,
) -> KfAccount:
    account = session.scalar(
        select(KfAccount).where(KfAccount.connection_id == connection_id, KfAccount.open_kfid == open_kfid)
    )
    if account is None:
        # An account we had not seen (authorised after the connection was saved): its
        # history before now is bootstrap under the `skip` policy, like any new account.
        account = KfAccount(
            connection_id=connection_id,
            open_kfid=open_kfid,
            connected_at=connected_at or now,
            created_at=now,
            updated_at=now,
        )
        session.add(account)
        session.flush()
    return account


def record_callback(
    session: Session,
    connection_id: int,
    fields: dict[str, str],
    xml: str,
    *,
    now: datetime,
    row: CallbackEvent | None = None,
    replay_key: str | None = None,
) -> CallbackEvent:
    """Record a decrypted callback and act on it: store the sync token, wake one sync.

    `row` is an event kept earlier for retry; it is settled instead of adding another."""
    event = fields.get("Event", "")
    open_kfid = fields.get("OpenKfId") or None
    if row is None:
        row = CallbackEvent(
            connection_id=connection_id,
            event=event[:64] or "?",
            open_kfid=open_kfid,
            xml=xml,
            received_at=now,
            replay_key=replay_key,
        )
        session.add(row)
    row.status, row.error = "done", None
    if event == "kf_msg_or_event" and open_kfid:
        token = fields.get("Token") or None
        account_id = store_sync_token(
            session, connection_id, open_kfid, token, now=now, first_seen=first_seen_boundary(fields, now)
        )
        enqueue_sync(session, account_id, now=now)
    elif event == "kf_account_auth_change":
        for open_kfid_added in _ids(fields.get("AuthAddOpenKfId")):
            account = get_or_create_account(
                session,
                connection_id,
                open_kfid_added,
                now=now,
                connected_at=first_seen_boundary(fields, now),
            )
            account.authorized, account.updated_at = True, now
            session.flush()
            enqueue_sync(session, account.id, now=now)
        for open_kfid_removed in _ids(fields.get("AuthDelOpenKfId")):
            removed = session.scalar(
                select(KfAccount).where(
                    KfAccount.connection_id == connection_id, KfAccount.open_kfid == open_kfid_removed
                )
            )
            if removed is not None:
                removed.authorized, removed.updated_at = False, now
        add_job(
            session,
            REFRESH_ACCOUNTS_TASK,
            {"connection_id": connection_id},
            now=now,
            lock=f"accounts:{connection_id}",
            queueing_lock=f"accounts:{connection_id}",
        )
    session.flush()
    return row


_ADD_CALLBACKS = insert(table_of(CallbackEvent))  # built once: building it cost as much as running it


def record_callbacks(
    session: Session, callbacks: list[tuple[int, dict[str, str], str, str | None]], *, now: datetime
) -> None:
    """Record a batch of decrypted callbacks in the caller's transaction (group commit).

    Many `kf_msg_or_event` wake-ups for one account collapse into one token update and
    one coalesced sync; the rarer events go through `record_callback` one by one."""
    latest_token: dict[tuple[int, str], str | None] = {}
    first_seen: dict[tuple[int, str], datetime] = {}
    rows = []
    for connection_id, fields, xml, replay_key in callbacks:
        open_kfid = fields.get("OpenKfId") or None
        if fields.get("Event") == "kf_msg_or_event" and open_kfid:
            rows.append(
                {
                    "connection_id": connection_id,
                    "event": "kf_msg_or_event",
                    "open_kfid": open_kfid,
                    "xml": xml,
                    "status": "done",
                    "received_at": now,
                    "replay_key": replay_key,
                }
            )
            latest_token[(connection_id, open_kfid)] = fields.get("Token") or None
            first_seen.setdefault((connection_id, open_kfid), first_seen_boundary(fields, now))
        else:
            record_callback(session, connection_id, fields, xml, now=now, replay_key=replay_key)
    if rows:  # one Core executemany, not an ORM object per callback
        session.connection().execute(_ADD_CALLBACKS, rows)
    for (connection_id, open_kfid), token in latest_token.items():
        account_id = store_sync_token(
            session,
            connection_id,
            open_kfid,
            token,
            now=now,
            first_seen=first_seen[(connection_id, open_kfid)],
        )
        enqueue_sync(session, account_id, now=now)


# Built once, on the table (Core: `table_of`): one per callback, and building it cost about as
# much as running it.
_ACCOUNTS = table_of(KfAccount).c
_STORE_SYNC_TOKEN = (
    update(table_of(KfAccount))
    .where(
        _ACCOUNTS.connection_id == bindparam("of_connection"),
        _ACCOUNTS.open_kfid == bindparam("of_open_kfid"),
    )
    .values(
        sync_token=bindparam("new_token", type_=_ACCOUNTS.sync_token.type),
        sync_token_expires_at=bindparam("token_expires_at", type_=_ACCOUNTS.sync_token_expires_at.type),
        updated_at=bindparam("stamp", type_=_ACCOUNTS.updated_at.type),
    )
    .returning(_ACCOUNTS.id)
)


def store_sync_token(
    session: Session,
    connection_id: int,
    open_kfid: str,
    token: str | None,
    *,
    now: datetime,
    first_seen: datetime,
) -> int:
    """Store a callback's sync token on its account (the sync job reads the freshest one when it
    runs): one UPDATE … RETURNING for a known account; an account not seen before is created
    (`first_seen`: its bootstrap boundary). Returns the account's id."""
    expires_at = now + SYNC_TOKEN_TTL if token else None
    account_id = session.scalar(
        _STORE_SYNC_TOKEN,
        {
            "new_token": token,
            "token_expires_at": expires_at,
            "stamp": now,
            "of_connection": connection_id,
            "of_open_kfid": open_kfid,
        },
    )
    if account_id is not None:
        return int(account_id)
    account = get_or_create_account(session, connection_id, open_kfid, now=now, connected_at=first_seen)
    account.sync_token, account.sync_token_expires_at, account.updated_at = token, expires_at, now
    session.flush()
    return account.id


def _ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class StoredMessage:
    id: int
    external_userid: str | None
    bootstrap: bool


def message_row(
    account_id: int, item: SyncItem, *, bootstrap_before: datetime | None, now: datetime
) -> dict[str, Any]:
    """Column values for one `msg_list` item, from the client's one parser (which gives an
    item without `msgid` a stable synthetic one and never fails on a malformed field)."""
    raw_event = item.raw.get("event")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    return {
        "account_id": account_id,
        "msgid": item.msgid[:64],
        "external_userid": item.external_userid or None,
        "origin": item.origin,
        "msgtype": (item.msgtype or "unknown")[:32],
        "event_type": str(event["event_type"])[:64] if event.get("event_type") else None,
        "servicer_userid": item.servicer_userid or event.get("servicer_userid"),
        "send_time": item.sent_at,
        "payload": item.raw,
        "bootstrap": bootstrap_before is not None and item.sent_at < bootstrap_before,
        "stored_at": now,
    }


_MESSAGES = table_of(Message)  # Core: a page's insert runs for every message
_ADD_PAGE = {
    dialect: insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=["account_id", "msgid"])
    .returning(_MESSAGES.c.id, _MESSAGES.c.msgid, _MESSAGES.c.external_userid, _MESSAGES.c.bootstrap)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def store_page(
    session: Session,
    account_id: int,
    connected_at: datetime,
    items: list[SyncItem],
    *,
    backfill: bool,
    now: datetime,
) -> list[StoredMessage]:
    """Insert-or-ignore a page of items by (account, msgid); returns only the rows new to us.
    Items sent before the account was connected (`connected_at`) are bootstrap history unless
    the connection back-fills."""
    rows: dict[str, dict[str, Any]] = {}
    # send_time has whole seconds: compare with the connection's second, so a message
    # sent in the same second as the connection is acted on rather than skipped.
    bootstrap_before = None if backfill else connected_at.replace(microsecond=0)
    for item in items:
        row = message_row(account_id, item, bootstrap_before=bootstrap_before, now=now)
        rows.setdefault(row["msgid"], row)
    if not rows:
        return []
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    # Rows as parameters of one statement built once (SQLAlchemy sends them as multi-row
    # VALUES): a statement with the page's values in it was built and compiled for every page.
    result = session.execute(_ADD_PAGE[dialect], list(rows.values()))
    by_msgid = {r.msgid: StoredMessage(r.id, r.external_userid, r.bootstrap) for r in result}
    # Keep stream order for the processing jobs.
    return [by_msgid[msgid] for msgid in rows if msgid in by_msgid]
