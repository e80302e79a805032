"""在线客服账号 under a connection: create, adopt, edit, enable/disable, delete.

Each operation calls WeCom first and writes after, in its own transaction (no network
call inside a transaction), and is safe to run again after a crash half-way:

- create: an account is identified by its name within a connection. Before calling
  `kf/account/add`, `kf/account/list` is read; when WeCom already has a manageable account
  of that name that Kefu has not stored, it is adopted instead of created. So when
  `kf/account/add` succeeded but the write after it failed, running create again finishes
  the job with the same account instead of making a second one.
- update: WeCom's `kf/account/update` is idempotent; a retry sends the same values again.
  The avatar is uploaded (`media/upload`) only when its SHA-256 differs from the stored one.
- delete: `kf/account/del`, then the row. A retry after the row survived finds WeCom answer
  95004 (no such account) and deletes the row.
- enable/disable is local: a disabled account is still pulled and stored (see ingest).

The session-level helpers (`store_account`, `find_account*`) take the caller's session and
never commit; config apply composes them into its one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.audited import account_view
from kefu.accounts.avatar import Avatar, upload_avatar
from kefu.accounts.models import Connection, KfAccount
from kefu.accounts.service import get_connection, wecom_client
from kefu.accounts.settings import (
    Source,
    audit_actor,
    get_account,
    load_ai_settings,
    save_account_settings,
    validate_settings,
)
from kefu.accounts.sync import enqueue_sync
from kefu.audit.log import record
from kefu.db.base import row_id_of
from kefu.errors import Conflict, DomainError, Invalid, NotFound
from kefu.logs import get_logger
from kefu.runtime import Runtime
from kefu.wecom.client import WeComClient
from kefu.wecom.errors import WeComError, WeComTransportError
from kefu.wecom.results import KfAccountInfo

log = get_logger(__name__)

NAME_MAX_CHARS = 16  # kf/account/add (wecom-kf-api.md §8.1)
ACCOUNT_NOT_FOUND = 95004


class WeComFailed(DomainError):
    """A WeCom call an operation needs failed (refused or unreachable); Kefu's records are unchanged."""

    status_code = 502
    code = "wecom_error"


@contextmanager
def wecom_step(what: str) -> Iterator[None]:
    """Turn a WeCom failure into a WeComFailed that says what was being done (API: 502, CLI: exit 2)."""
    try:
        yield
    except (WeComError, WeComTransportError) as exc:
        problem = "wecom_refused" if isinstance(exc, WeComError) else "wecom_unreachable"
        message = f"{what}: {exc}; nothing was changed in Kefu"
        raise WeComFailed(message, problem, {"reason": str(exc)}) from exc


def check_name(name: str) -> str:
    """在线客服名称: 1–16 characters (WeCom's rule), surrounding spaces dropped."""
    value = (name or "").strip()
    if not 1 <= len(value) <= NAME_MAX_CHARS:
        rule = f"an account name must be 1–{NAME_MAX_CHARS} characters (WeCom's rule), got {name!r}"
        raise Invalid(rule, "name_length", {"max": NAME_MAX_CHARS})
    return value


# --- session-level helpers (never commit) -------------------------------------------------


async def find_account(session: AsyncSession, connection_id: int, open_kfid: str) -> KfAccount | None:
    return await session.scalar(
        select(KfAccount).where(KfAccount.connection_id == connection_id, KfAccount.open_kfid == open_kfid)
    )


async def find_account_by_name(session: AsyncSession, connection_id: int, name: str) -> KfAccount | None:
    query = select(KfAccount).where(KfAccount.connection_id == connection_id, KfAccount.name == name)
    return await session.scalar(query.order_by(KfAccount.id).limit(1))


async def list_all_accounts(session: AsyncSession, connection_id: int | None = None) -> list[KfAccount]:
    query = select(KfAccount).order_by(KfAccount.id)
    if connection_id is not None:
        query = query.where(KfAccount.connection_id == connection_id)
    return list((await session.scalars(query)).all())


async def resolve_account(session: AsyncSession, ref: str) -> KfAccount:
    """An account given by id or by open_kfid (what people type on the command line)."""
    if (account_id := row_id_of(ref)) is not None:
        return await get_account(session, account_id)
    account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == ref).limit(1))
    if account is None:
        raise NotFound(f"no account with id or open_kfid {ref!r}")
    return account


async def store_account(
    session: AsyncSession,
    connection: Connection,
    *,
    open_kfid: str,
    name: str,
    avatar: Avatar | None,
    enabled: bool,
    now: datetime,
) -> KfAccount:
    """Insert or update the row of `open_kfid` (a refresh may have stored it meanwhile).

    A new row starts its first pull (its cursor) and is connected now (the bootstrap boundary)."""
    account = await find_account(session, connection.id, open_kfid)
    is_new = account is None
    if account is None:
        account = KfAccount(
            connection_id=connection.id, open_kfid=open_kfid, connected_at=now, created_at=now, updated_at=now
        )
        session.add(account)
    account.name = name
    account.enabled = enabled
    account.authorized = account.manage_privilege = True
    if avatar is not None:
        account.avatar_path, account.avatar_sha256 = avatar.path, avatar.sha256
    account.updated_at = now
    await session.flush()
    if is_new:
        await session.run_sync(enqueue_sync, account.id, now=now)
    return account


# --- WeCom steps (no database) ------------------------------------------------------------


def _manageable(listed: list[KfAccountInfo], open_kfid: str) -> KfAccountInfo:
    info = next((a for a in listed if a.open_kfid == open_kfid), None)
    if info is None:
        raise NotFound(f"WeCom lists no account {open_kfid} for this connection (kf/account/list)")
    if info.manage_privilege is False:
        raise Conflict(
            f"this app may not manage the account {open_kfid} ({info.name}): in 微信客服 → API, "
            "choose it among the accounts the app may manage"
        )
    return info


async def ensure_in_wecom(client: WeComClient, *, name: str, avatar: Avatar) -> tuple[str, bool]:
    """The open_kfid of WeCom's account named `name` (adopted, avatar set), or a new one.

    Returns (open_kfid, adopted). Adopting by name is what makes a crashed create safe to retry."""
    listed = await client.account_list_all()
    same_name = [a for a in listed if a.name == name and a.manage_privilege is not False]
    media_id = await upload_avatar(client, avatar)
    if same_name:
        open_kfid = same_name[0].open_kfid
        await client.account_update(open_kfid, media_id=media_id)
        return open_kfid, True
    return await client.account_add(name, media_id), False


async def adopt_in_wecom(
    client: WeComClient, open_kfid: str, *, name: str | None, avatar: Avatar | None
) -> KfAccountInfo:
    """Check WeCom lists the account for this app; set its name and avatar when given."""
    info = _manageable(await client.account_list_all(), open_kfid)
    media_id = await upload_avatar(client, avatar) if avatar is not None else None
    new_name = name if name is not None and name != info.name else None
    if new_name is not None or media_id is not None:
        await client.account_update(open_kfid, name=new_name, media_id=media_id)
    return info


async def delete_in_wecom(client: WeComClient, open_kfid: str) -> None:
    """kf/account/del; an account WeCom no longer has (95004) counts as deleted."""
    try:
        await client.account_del(open_kfid)
    except WeComError as exc:
        if exc.errcode != ACCOUNT_NOT_FOUND:
            raise


# --- operations that own their transactions -----------------------------------------------


async def _connection(rt: Runtime, connection_id: int) -> Connection:
    async with rt.db.read() as session:
        return await get_connection(session, connection_id)


async def _check_settings(rt: Runtime, settings: Mapping[str, Any] | None) -> None:
    if settings is not None:
        async with rt.db.read() as session:
            validate_settings(settings, ai=await load_ai_settings(session))


async def _store_with_settings(
    rt: Runtime,
    connection_id: int,
    open_kfid: str,
    name: str,
    avatar: Avatar | None,
    enabled: bool,
    settings: Mapping[str, Any] | None,
    changed_by: str,
    source: Source,
) -> KfAccount:
    """After WeCom has the account: its row and, when given, its settings in one transaction."""
    now = rt.clock.now()
    async with rt.db.write() as session:
        connection = await get_connection(session, connection_id)
        account = await store_account(
            session, connection, open_kfid=open_kfid, name=name, avatar=avatar, enabled=enabled, now=now
        )
        await record(
            session,
            actor=audit_actor(source, changed_by),
            action="account.create",
            target=f"account:{account.id}",
            after={"open_kfid": open_kfid, **account_view(account)},
            now=now,
        )
        if settings is not None:
            await save_account_settings(
                session, account, settings, changed_by=changed_by, source=source, now=now
            )
    return account


async def create_account(
    rt: Runtime,
    *,
    connection_id: int,
    name: str,
    avatar: Avatar | None = None,
    enabled: bool = True,
    settings: Mapping[str, Any] | None = None,
    changed_by: str = "cli",
    source: Source = "cli",
) -> KfAccount:
    """Create the account in WeCom (avatar uploaded; the shipped default when none), then store it."""
    name = check_name(name)
    avatar = avatar or Avatar.default()
    await _check_settings(rt, settings)  # fail before anything changes in WeCom
    async with rt.db.read() as session:
        connection = await get_connection(session, connection_id)
        existing = await find_account_by_name(session, connection_id, name)
    if existing is not None:
        raise Conflict(
            f"connection {connection.name} already has an account named {name!r} (id {existing.id}); "
            "change it with `kefu accounts update` or choose another name",
            "name_taken",
            {"name": name, "id": existing.id},
        )
    with wecom_step(f"creating the account {name!r} in WeCom"):
        open_kfid, adopted = await ensure_in_wecom(wecom_client(rt, connection), name=name, avatar=avatar)
    account = await _store_with_settings(
        rt, connection_id, open_kfid, name, avatar, enabled, settings, changed_by, source
    )
    log.info("kf_account.created", account_id=account.id, open_kfid=open_kfid, adopted_by_name=adopted)
    return account


async def adopt_account(
    rt: Runtime,
    *,
    connection_id: int,
    open_kfid: str,
    name: str | None = None,
    avatar: Avatar | None = None,
    enabled: bool = True,
    settings: Mapping[str, Any] | None = None,
    changed_by: str = "cli",
    source: Source = "cli",
) -> KfAccount:
    """Take over an account that exists in WeCom (listed by kf/account/list for this app)."""
    name = check_name(name) if name is not None else None
    await _check_settings(rt, settings)
    connection = await _connection(rt, connection_id)
    with wecom_step(f"adopting the account {open_kfid}"):
        info = await adopt_in_wecom(wecom_client(rt, connection), open_kfid, name=name, avatar=avatar)
    account = await _store_with_settings(
        rt, connection_id, open_kfid, name or info.name[:64], avatar, enabled, settings, changed_by, source
    )
    log.info("kf_account.adopted", account_id=account.id, open_kfid=open_kfid)
    return account


async def update_account(
    rt: Runtime,
    account_id: int,
    *,
    name: str | None = None,
    avatar: Avatar | None = None,
    enabled: bool | None = None,
    actor: str = "cli",
) -> KfAccount:
    """Change the given fields: name and avatar in WeCom first (the avatar only when its bytes
    changed), then the row and its audit event (by `actor`). `enabled` is Kefu's own switch
    (no WeCom call)."""
    name = check_name(name) if name is not None else None
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
        connection = await get_connection(session, account.connection_id)
    new_name = name if name is not None and name != account.name else None
    new_avatar = avatar if avatar is not None and avatar.sha256 != account.avatar_sha256 else None
    if new_name is not None or new_avatar is not None:
        client = wecom_client(rt, connection)
        with wecom_step(f"updating the account {account.open_kfid} in WeCom"):
            media_id = await upload_avatar(client, new_avatar) if new_avatar is not None else None
            await client.account_update(account.open_kfid, name=new_name, media_id=media_id)
    async with rt.db.write() as session:
        account = await get_account(session, account_id)
        before = account_view(account)
        if name is not None:
            account.name = name
        if avatar is not None:  # same bytes from another file: only the path changes
            account.avatar_path, account.avatar_sha256 = avatar.path, avatar.sha256
        if enabled is not None:
            account.enabled = enabled
        account.updated_at = rt.clock.now()
        await record(
            session,
            actor=actor,
            action="account.update",
            target=f"account:{account_id}",
            before=before,
            after=account_view(account),
            now=account.updated_at,
        )
    log.info(
        "kf_account.updated",
        account_id=account_id,
        renamed=new_name is not None,
        avatar_uploaded=new_avatar is not None,
        enabled=enabled,
    )
    return account


async def set_enabled(rt: Runtime, account_id: int, enabled: bool, *, actor: str = "cli") -> KfAccount:
    """启用 / 停用: local only; a disabled account is still pulled and stored, but not served."""
    return await update_account(rt, account_id, enabled=enabled, actor=actor)


async def set_connection_enabled(
    rt: Runtime, connection_id: int, enabled: bool, *, actor: str = "cli"
) -> list[KfAccount]:
    """停用 / 启用 a whole connection: every account under it at once, in one transaction (each
    with its audit event). Like one account's switch, messages are still pulled and stored."""
    now = rt.clock.now()
    async with rt.db.write() as session:
        await get_connection(session, connection_id)
        rows = await list_all_accounts(session, connection_id)
        for account in rows:
            if account.enabled == enabled:
                continue
            before = account_view(account)
            account.enabled, account.updated_at = enabled, now
            target = f"account:{account.id}"
            await record(
                session,
                actor=actor,
                action="account.update",
                target=target,
                before=before,
                after=account_view(account),
                now=now,
            )
    log.info("connection.accounts_enabled", connection_id=connection_id, enabled=enabled, count=len(rows))
    return rows


async def delete_account(rt: Runtime, account_id: int) -> KfAccount:
    """Delete the account in WeCom (kf/account/del), then here with its messages and settings."""
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
        connection = await get_connection(session, account.connection_id)
    with wecom_step(f"deleting the account {account.open_kfid} in WeCom"):
        await delete_in_wecom(wecom_client(rt, connection), account.open_kfid)
    async with rt.db.write() as session:
        row = await session.get(KfAccount, account_id)
        if row is not None:
            await session.delete(row)
    log.info("kf_account.deleted", account_id=account_id, open_kfid=account.open_kfid)
    return account
