"""Connections (新建接入) and the kf accounts under them: the session-level helpers and the
refresh of a connection's account list.

The session-level helpers (`store_*`, `upsert_accounts`, `get_connection`, …) take the
caller's session and never commit; config apply composes them into one transaction.
`refresh_accounts` owns its transactions because it must call WeCom *before* writing (no
network call inside a transaction), as do the audited changes a person asks for (create,
update, recheck, delete), which are in kefu.accounts.connection_ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.accounts.check import ConnectionCheck, check_connection, not_checked
from kefu.accounts.models import Connection, KfAccount
from kefu.accounts.schemas import callback_url
from kefu.accounts.sync import enqueue_servicer_refresh, enqueue_sync
from kefu.accounts.token_cache import ConnectionTokenCache
from kefu.db import get_row
from kefu.errors import Conflict
from kefu.runtime import Runtime
from kefu.secretbox import SecretDecryptError
from kefu.wecom.client import WeComClient
from kefu.wecom.results import KfAccountInfo

__all__ = [
    "ConnectionCheck",
    "ConnectionFields",
    "ConnectionSecrets",
    "callback_url",
    "check_connection",
    "get_connection",
    "list_accounts",
    "list_connections",
    "load_connection_secrets",
    "not_checked",
    "refresh_accounts",
    "upsert_accounts",
    "wecom_client",
]


@dataclass(frozen=True)
class ConnectionSecrets:
    secret: str
    callback_token: str
    aes_key: str

    def __repr__(self) -> str:  # never print secrets by accident
        return "ConnectionSecrets(***)"


@dataclass(frozen=True)
class ConnectionFields:
    """Validated plaintext values of a connection, as a person or a file gives them."""

    name: str
    corp_id: str
    secret: str
    callback_token: str
    aes_key: str
    bootstrap: str = "skip"


def load_connection_secrets(rt: Runtime, connection: Connection) -> ConnectionSecrets:
    return ConnectionSecrets(
        secret=rt.secrets.open(connection.secret_enc),
        callback_token=rt.secrets.open(connection.callback_token_enc),
        aes_key=rt.secrets.open(connection.aes_key_enc),
    )


def wecom_client(rt: Runtime, connection: Connection) -> WeComClient:
    """A client for this connection whose access token is shared by every process (in the database)."""
    return WeComClient(
        base_url=rt.settings.wecom_api_base,
        corp_id=connection.corp_id,
        secret=rt.secrets.open(connection.secret_enc),
        http=rt.wecom_http,
        token_cache=ConnectionTokenCache(
            rt.db,
            connection.id,
            rt.secrets,
            clock=rt.clock,
            credentials=f"{connection.corp_id}:{connection.secret_enc}",
        ),
        clock=rt.clock,
    )


# --- session-level helpers (never commit) -------------------------------------------------


# Built once, the id bound when it runs: every pull starts with it, and building the statement
# cost about as much as running it.
_ACCOUNT_AND_CONNECTION = (
    select(KfAccount, Connection)
    .outerjoin(Connection, Connection.id == KfAccount.connection_id)
    .where(KfAccount.id == bindparam("account_id"))
)


def account_and_connection(session: Session, account_id: int) -> tuple[KfAccount | None, Connection | None]:
    """An account and its connection, in one statement (a synchronous unit: `db.run_read`)."""
    row = session.execute(_ACCOUNT_AND_CONNECTION, {"account_id": account_id}).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def get_connection(session: AsyncSession, connection_id: int) -> Connection:
    return await get_row(session, Connection, connection_id, "connection")


async def find_connection(session: AsyncSession, name: str) -> Connection | None:
    return await session.scalar(select(Connection).where(Connection.name == name))


async def list_connections(session: AsyncSession) -> list[Connection]:
    return list((await session.scalars(select(Connection).order_by(Connection.id))).all())


async def list_accounts(session: AsyncSession, connection_id: int) -> list[KfAccount]:
    query = select(KfAccount).where(KfAccount.connection_id == connection_id).order_by(KfAccount.id)
    return list((await session.scalars(query)).all())


async def _ensure_name_free(session: AsyncSession, name: str, *, except_id: int | None = None) -> None:
    existing = await find_connection(session, name)
    if existing is not None and existing.id != except_id:
        raise Conflict(
            f"a connection named {name!r} already exists (id {existing.id})", "name_taken", {"name": name}
        )


def record_check(connection: Connection, check: ConnectionCheck) -> None:
    connection.last_check_ok = check.ok
    connection.last_check_message = check.message


async def store_new_connection(
    session: AsyncSession, rt: Runtime, fields: ConnectionFields, check: ConnectionCheck
) -> Connection:
    """Insert a connection (secrets sealed) and, when the check listed accounts, their rows and syncs."""
    await _ensure_name_free(session, fields.name)
    now = rt.clock.now()
    connection = Connection(
        name=fields.name,
        corp_id=fields.corp_id,
        secret_enc=rt.secrets.seal(fields.secret),
        callback_token_enc=rt.secrets.seal(fields.callback_token),
        aes_key_enc=rt.secrets.seal(fields.aes_key),
        bootstrap=fields.bootstrap,
        created_at=now,
        updated_at=now,
    )
    record_check(connection, check)
    session.add(connection)
    await session.flush()
    if check.ok:
        await upsert_accounts(session, rt, connection, check.accounts)
    return connection


def changed_fields(rt: Runtime, connection: Connection, wanted: dict[str, str | None]) -> list[str]:
    """Names of the fields in `wanted` (None = keep) whose value differs from the stored one."""
    sealed = {"secret": "secret_enc", "callback_token": "callback_token_enc", "aes_key": "aes_key_enc"}
    changed = []
    for key, value in wanted.items():
        if value is None:
            continue
        try:
            current = (
                rt.secrets.open(getattr(connection, sealed[key]))
                if key in sealed
                else getattr(connection, key)
            )
        except SecretDecryptError:
            current = None  # sealed under an older KEFU_SECRET_KEY: a given value replaces it
        if current != value:
            changed.append(key)
    return changed


def needs_check(changed: list[str]) -> bool:
    return "corp_id" in changed or "secret" in changed


async def store_connection_changes(
    session: AsyncSession,
    rt: Runtime,
    connection: Connection,
    wanted: dict[str, str | None],
    check: ConnectionCheck | None,
) -> list[str]:
    """Write the changed fields of `wanted`; `check` is the result for a new corp_id/secret."""
    changed = changed_fields(rt, connection, wanted)
    if not changed:
        return changed
    if "name" in changed:
        await _ensure_name_free(session, str(wanted["name"]), except_id=connection.id)
    for key in changed:
        value = str(wanted[key])
        if key in ("secret", "callback_token", "aes_key"):
            setattr(connection, f"{key}_enc", rt.secrets.seal(value))
        else:
            setattr(connection, key, value)
    if needs_check(changed):
        # A token of the old credentials must never be used with the new ones.
        connection.access_token_enc = None
        connection.access_token_expires_at = None
        if check is not None:
            record_check(connection, check)
            if check.ok:
                await upsert_accounts(session, rt, connection, check.accounts)
    connection.updated_at = rt.clock.now()
    return changed


async def upsert_accounts(
    session: AsyncSession, rt: Runtime, connection: Connection, listed: list[KfAccountInfo]
) -> list[KfAccount]:
    """Make the account rows match WeCom's list; new (or newly authorised) accounts get a sync
    and a read of their servicer list.

    A new row's `connected_at` is now: the bootstrap boundary of the `skip` policy.
    Rows are never deleted (their messages stay); unlisted ones are marked unauthorised.
    """
    now = rt.clock.now()
    rows = {a.open_kfid: a for a in await list_accounts(session, connection.id)}
    to_sync: list[KfAccount] = []
    for info in listed:
        manageable = info.manage_privilege is not False
        row = rows.get(info.open_kfid)
        if row is None:
            if not manageable:
                continue
            row = KfAccount(
                connection_id=connection.id,
                open_kfid=info.open_kfid,
                connected_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            rows[info.open_kfid] = row
            to_sync.append(row)
        elif manageable and not row.authorized:
            to_sync.append(row)
        row.name = info.name[:64]
        row.avatar_url = info.avatar
        row.manage_privilege = manageable
        row.authorized = manageable
        row.updated_at = now
    listed_ids = {info.open_kfid for info in listed}
    for open_kfid, row in rows.items():
        if open_kfid not in listed_ids and row.authorized:
            row.authorized = False
            row.updated_at = now
    await session.flush()
    for row in to_sync:
        await session.run_sync(enqueue_sync, row.id, now=now)
        await session.run_sync(enqueue_servicer_refresh, row.id, now=now)
    return sorted(rows.values(), key=lambda r: r.id)


# --- operations that own their transaction ------------------------------------------------


async def refresh_accounts(rt: Runtime, connection_id: int) -> list[KfAccount]:
    """Re-read kf/account/list with the connection's shared token and update the account rows.

    WeCom errors propagate (the caller is a job that retries)."""
    async with rt.db.read() as session:
        connection = await get_connection(session, connection_id)
    listed = await wecom_client(rt, connection).account_list_all()
    async with rt.db.write() as session:
        connection = await get_connection(session, connection_id)
        return await upsert_accounts(session, rt, connection, listed)
