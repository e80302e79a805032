"""The `accounts` section of the config file: 在线客服账号 with their servicers and settings.

An entry is matched by connection + `open_kfid` (adopt an existing account), else by
connection + `name` (create it, or find the one created earlier). Left out: `avatar` keeps the
current image (a new account gets the shipped default), `servicers` keeps the list;
every setting left out takes its default.

Applying needs WeCom for what changes there (create or adopt, name, avatar, servicers, and
deletions with --delete-in-wecom: --prune alone only stops managing an account in Kefu):
`prepare` makes those calls before the transaction. When one fails,
the run stops with the reason and Kefu's database is left unchanged; the WeCom steps already
made are idempotent (a created account is adopted by name, servicers already added are
"ignored"), so the next apply finishes the job. An account that is unchanged needs no WeCom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.audited import account_view
from kefu.accounts.check import interactive_client
from kefu.accounts.kf_accounts import (
    Avatar,
    WeComFailed,
    adopt_in_wecom,
    delete_in_wecom,
    ensure_in_wecom,
    find_account,
    find_account_by_name,
    list_all_accounts,
    store_account,
    upload_avatar,
)
from kefu.accounts.models import KfAccount
from kefu.accounts.service import find_connection, list_accounts, list_connections
from kefu.accounts.servicers import (
    ServicerSpec,
    ServicerSync,
    in_step,
    list_servicers,
    servicers_view,
    store_servicers,
    sync_in_wecom,
)
from kefu.accounts.settings import save_account_settings, settings_json, stored_settings
from kefu.accounts.settings_types import SETTINGS_KEYS
from kefu.ai.settings import AISettings
from kefu.audit.log import record
from kefu.config.ai import config_actor, wanted_ai
from kefu.config.loader import ConfigFileError, LoadedConfig
from kefu.config.report import ApplyReport, Change
from kefu.config.schema import Account
from kefu.errors import DomainError, Invalid
from kefu.runtime import Runtime
from kefu.schema_types import Problem
from kefu.wecom.client import WeComClient
from kefu.wecom.errors import WeComError, WeComTransportError

SECTION = "accounts"


class WeComStepFailed(WeComFailed):
    """A WeCom call that applying the file needs failed; nothing was written to the database."""


@dataclass
class Target:
    """A file entry resolved against the database (re-made by every plan)."""

    connection: str
    entry: Account | None  # None: a stored account the file does not name (keep / --prune)
    row_id: int | None
    open_kfid: str | None
    avatar: Avatar | None
    servicers: list[ServicerSpec] | None


async def find_row(session: AsyncSession, entry: Account) -> KfAccount | None:
    """The stored account an entry names: by open_kfid, else by name, under its connection."""
    connection = await find_connection(session, entry.connection)
    if connection is None:
        return None
    if entry.open_kfid is not None:
        return await find_account(session, connection.id, entry.open_kfid)
    assert entry.name is not None  # the schema asks for one of the two
    return await find_account_by_name(session, connection.id, entry.name)


async def _ai_conflicts(
    session: AsyncSession, loaded: LoadedConfig, ai: AISettings, *, spared: set[int]
) -> list[Problem]:
    """With no AI service, stored accounts the file does not set (nor prune) must be human_only."""
    if ai.configured:
        return []
    problems = []
    for row in await list_all_accounts(session):
        mode = stored_settings(row).reception.mode
        if row.id not in spared and mode != "human_only":
            reason = (
                f"ai.provider none, but account {row.id} ({row.name}, not set by this file) uses reception "
                f"mode {mode}, which needs an AI service: make it human_only first"
            )
            problems.append(loaded.problem(("ai", "provider"), reason))
    return problems


def _specs(entry: Account) -> list[ServicerSpec] | None:
    if entry.servicers is None:
        return None
    return [ServicerSpec(s.userid, s.max_sessions, s.name) for s in entry.servicers]


class AccountsApplier:
    section = SECTION

    def __init__(self, *, delete_in_wecom: bool = False) -> None:
        self.delete_in_wecom = delete_in_wecom  # --prune also deletes the accounts in WeCom
        self._targets: dict[str, Target] = {}
        self._open_kfids: dict[str, str] = {}  # change name → open_kfid found or made in WeCom
        self._names: dict[str, str] = {}  # change name → the account's name in WeCom
        self._syncs: dict[str, ServicerSync] = {}
        self._clients: dict[str, WeComClient] = {}

    # --- plan -------------------------------------------------------------------------------

    async def plan(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, *, prune: bool
    ) -> list[Change]:
        ai = await wanted_ai(rt, session, loaded)
        if SECTION not in loaded.config.model_fields_set:
            if conflicts := await _ai_conflicts(session, loaded, ai, spared=set()):
                raise ConfigFileError(loaded.file, conflicts)
            return []
        problems: list[Problem] = []
        changes: list[Change] = []
        matched: dict[int, int] = {}  # row id → entry index
        self._targets = {}
        for index, entry in enumerate(loaded.config.accounts):
            path = (SECTION, index)
            try:
                entry.settings_data().check_ai(ai)
            except ValueError as exc:
                problems.append(loaded.problem((*path, "reception", "mode"), str(exc)))
            avatar = None
            if entry.avatar is not None:
                try:
                    avatar = Avatar.from_file(loaded.base_dir / entry.avatar)
                except Invalid as exc:
                    problems.append(loaded.problem((*path, "avatar"), exc.message))
            row = await find_row(session, entry)
            if row is not None and row.id in matched:
                reason = f"names the same account as accounts[{matched[row.id]}] ({row.open_kfid})"
                problems.append(loaded.problem(path, reason))
                continue
            if row is not None:
                matched[row.id] = index
            target = Target(
                entry.connection,
                entry,
                row.id if row else None,
                row.open_kfid if row else None,
                avatar,
                _specs(entry),
            )
            self._targets[entry.key] = target
            changes.append(await self._change(session, target, row))
        others = await self._others(session, loaded, set(matched))
        for row, key in others:
            deleted = ("delete_in_wecom",) if prune and self.delete_in_wecom else ()
            changes.append(Change(SECTION, key, "remove" if prune else "keep", deleted))
            self._targets[key] = Target(key.split("/")[0], None, row.id, row.open_kfid, None, None)
        spared = set(matched) | ({row.id for row, _ in others} if prune else set())
        problems += await _ai_conflicts(session, loaded, ai, spared=spared)
        if problems:
            raise ConfigFileError(loaded.file, problems)
        return changes

    async def _change(self, session: AsyncSession, target: Target, row: KfAccount | None) -> Change:
        entry = target.entry
        assert entry is not None
        if row is None:
            return Change(SECTION, entry.key, "create", ("adopt",) if entry.open_kfid else ())
        fields: list[str] = []
        if entry.name is not None and entry.name != row.name:
            fields.append("name")
        avatar = target.avatar
        if avatar is not None and (avatar.sha256, avatar.path) != (row.avatar_sha256, row.avatar_path):
            fields.append("avatar")
        if entry.enabled != row.enabled:
            fields.append("enabled")
        if target.servicers is not None and not in_step(
            await list_servicers(session, row.id), target.servicers
        ):
            fields.append("servicers")
        stored, wanted = settings_json(stored_settings(row)), settings_json(entry.settings_data())
        fields += [key for key in SETTINGS_KEYS if stored[key] != wanted[key]]
        return Change(SECTION, entry.key, "update" if fields else "unchanged", tuple(fields))

    async def _others(
        self, session: AsyncSession, loaded: LoadedConfig, matched: set[int]
    ) -> list[tuple[KfAccount, str]]:
        """Stored accounts no entry names, under the connections the file names."""
        named = {a.connection for a in loaded.config.accounts} | {c.name for c in loaded.config.connections}
        out = []
        for connection in await list_connections(session):
            if connection.name in named:
                for row in await list_accounts(session, connection.id):
                    if row.id not in matched:
                        out.append((row, f"{connection.name}/{row.open_kfid}"))
        return out

    # --- prepare: the WeCom calls, outside any transaction ---------------------------------

    async def prepare(
        self, rt: Runtime, loaded: LoadedConfig, changes: list[Change], report: ApplyReport
    ) -> None:
        for change in changes:
            if change.action not in ("create", "update", "remove"):
                continue
            try:
                await self._prepare_one(rt, loaded, change, report)
            except (WeComError, WeComTransportError, DomainError) as exc:
                raise WeComStepFailed(
                    f"{loaded.file}: {change.section}.{change.name}: {exc}. Nothing was changed in Kefu's "
                    "database; what WeCom already did is safe to redo, so apply again once this is fixed"
                ) from exc

    async def _prepare_one(
        self, rt: Runtime, loaded: LoadedConfig, change: Change, report: ApplyReport
    ) -> None:
        target = self._targets[change.name]
        if change.action == "remove" and "delete_in_wecom" not in change.fields:
            report.notes.append(f"{SECTION}.{change.name}: no longer managed by Kefu; it stays in WeCom")
            return
        client = await self._client(rt, loaded, target.connection)
        if change.action == "remove":
            assert target.open_kfid is not None
            await delete_in_wecom(client, target.open_kfid)
            report.notes.append(f"{SECTION}.{change.name}: deleted in WeCom")
            return
        entry = target.entry
        assert entry is not None
        if change.action == "create" and entry.open_kfid is not None:
            info = await adopt_in_wecom(client, entry.open_kfid, name=entry.name, avatar=target.avatar)
            open_kfid, name = entry.open_kfid, entry.name or info.name[:64]
        elif change.action == "create":
            assert entry.name is not None
            open_kfid, adopted = await ensure_in_wecom(
                client, name=entry.name, avatar=target.avatar or Avatar.default()
            )
            name = entry.name
            verb = "found in WeCom by its name and adopted" if adopted else "created in WeCom"
            report.notes.append(f"{SECTION}.{change.name}: {verb} ({open_kfid})")
        else:
            assert target.open_kfid is not None
            open_kfid, name = target.open_kfid, entry.name or ""
            await self._update_in_wecom(rt, client, target, change)
        self._open_kfids[change.name], self._names[change.name] = open_kfid, name
        if target.servicers is not None and (change.action == "create" or "servicers" in change.fields):
            sync = await sync_in_wecom(client, open_kfid, target.servicers)
            self._syncs[change.name] = sync
            for userid, words in sync.problems.items():
                report.warnings.append(f"{SECTION}.{change.name}: servicer {userid}: {words}")

    async def _update_in_wecom(
        self, rt: Runtime, client: WeComClient, target: Target, change: Change
    ) -> None:
        assert target.entry is not None and target.open_kfid is not None and target.row_id is not None
        async with rt.db.read() as session:
            row = await session.get(KfAccount, target.row_id)
        stored_sha = row.avatar_sha256 if row else None
        new_name = target.entry.name if "name" in change.fields else None
        avatar = target.avatar if target.avatar is not None and target.avatar.sha256 != stored_sha else None
        if new_name is not None or avatar is not None:
            media_id = await upload_avatar(client, avatar) if avatar is not None else None
            await client.account_update(target.open_kfid, name=new_name, media_id=media_id)

    async def _client(self, rt: Runtime, loaded: LoadedConfig, name: str) -> WeComClient:
        """A client with the credentials the connection will have once the file is applied."""
        if name not in self._clients:
            entry = next((c for c in loaded.config.connections if c.name == name), None)
            async with rt.db.read() as session:
                stored = await find_connection(session, name)
            secret = entry.secret if entry is not None and isinstance(entry.secret, str) else None
            if secret is None:
                assert stored is not None  # the connections section refused an unset secret otherwise
                secret = rt.secrets.open(stored.secret_enc)
            corp_id = entry.corp_id if entry is not None else stored.corp_id  # type: ignore[union-attr]
            self._clients[name] = interactive_client(rt, corp_id=corp_id, secret=secret)
        return self._clients[name]

    # --- apply: inside the run's one transaction --------------------------------------------

    async def apply(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, changes: list[Change]
    ) -> None:
        now, actor = rt.clock.now(), config_actor(loaded)
        ai = await wanted_ai(rt, session, loaded)
        for change in changes:
            target = self._targets[change.name]
            if change.action == "remove":
                row = await session.get(KfAccount, target.row_id)
                if row is not None:
                    await record(
                        session,
                        actor=actor,
                        action="account.delete",
                        target=f"account:{row.id}",
                        before=account_view(row),
                        now=now,
                    )
                    await session.delete(row)
                continue
            entry = target.entry
            if change.action not in ("create", "update") or entry is None:
                continue
            if change.action == "create":
                connection = await find_connection(session, entry.connection)
                assert connection is not None  # saved by the connections section, or already there
                avatar = target.avatar or (Avatar.default() if entry.open_kfid is None else None)
                account = await store_account(
                    session,
                    connection,
                    open_kfid=self._open_kfids[change.name],
                    name=self._names[change.name],
                    avatar=avatar,
                    enabled=entry.enabled,
                    now=now,
                )
                before: dict[str, Any] | None = None
            else:
                found = await session.get(KfAccount, target.row_id)
                assert found is not None  # the re-plan in this transaction found it
                account = found
                before = account_view(account)
                if "name" in change.fields and entry.name is not None:
                    account.name = entry.name
                if "avatar" in change.fields and target.avatar is not None:
                    account.avatar_path, account.avatar_sha256 = target.avatar.path, target.avatar.sha256
                account.enabled = entry.enabled
                account.updated_at = now
            action = "account.create" if change.action == "create" else "account.update"
            await record(
                session,
                actor=actor,
                action=action,
                target=f"account:{account.id}",
                before=before,
                after=account_view(account),
                now=now,
            )
            if change.name in self._syncs and target.servicers is not None:
                listed = servicers_view(await list_servicers(session, account.id))
                await store_servicers(session, account, target.servicers, self._syncs[change.name], now=now)
                await record(
                    session,
                    actor=actor,
                    action="account.servicers.update",
                    target=f"account:{account.id}",
                    before=listed,
                    after=servicers_view(target.servicers),
                    now=now,
                )
            await save_account_settings(
                session,
                account,
                entry.settings_data(),
                changed_by=config_actor(loaded),
                source="config",
                now=now,
                ai=ai,
            )
