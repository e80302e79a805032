"""The `connections` section of the config file: create, update, (with --prune) remove.

A connection is matched by name. Secrets are compared by value (decrypted); a
secret whose `${VAR}` is unset keeps the stored value, and is an error for a new
connection. A new or re-credentialed connection is checked against WeCom before
the transaction, and saved whatever the result (a config file must apply
offline): a failed check is recorded on the connection and reported as a warning.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts import service
from kefu.accounts.audited import connection_view
from kefu.accounts.models import Connection
from kefu.audit.log import record
from kefu.config.ai import config_actor
from kefu.config.loader import ConfigFileError, LoadedConfig
from kefu.config.report import ApplyReport, Change
from kefu.config.schema import ConnectionEntry
from kefu.runtime import Runtime
from kefu.schema_types import UnsetVar

SECTION = "connections"
# file key → service key, for the values that are sealed at rest
SECRET_FIELDS = {"secret": "secret", "callback_token": "callback_token", "encoding_aes_key": "aes_key"}


def wanted_fields(entry: ConnectionEntry) -> dict[str, str | None]:
    """The service's view of an entry; None = keep the stored value (its variable is unset)."""
    wanted: dict[str, str | None] = {
        "name": entry.name,
        "corp_id": entry.corp_id,
        "bootstrap": entry.bootstrap,
    }
    for file_key, key in SECRET_FIELDS.items():
        value = getattr(entry, file_key)
        wanted[key] = None if isinstance(value, UnsetVar) else value
    return wanted


class ConnectionsApplier:
    section = SECTION

    def __init__(self) -> None:
        self._checks: dict[str, service.ConnectionCheck] = {}

    def _entries(self, loaded: LoadedConfig) -> dict[str, ConnectionEntry]:
        return {entry.name: entry for entry in loaded.config.connections}

    async def plan(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, *, prune: bool
    ) -> list[Change]:
        existing = {c.name: c for c in await service.list_connections(session)}
        changes: list[Change] = []
        problems = []
        for index, entry in enumerate(loaded.config.connections):
            current = existing.get(entry.name)
            if current is None:
                for file_key in SECRET_FIELDS:
                    value = getattr(entry, file_key)
                    if isinstance(value, UnsetVar):
                        reason = (
                            f"environment variable {value.name} is not set, and a new connection needs it"
                        )
                        problems.append(loaded.problem((SECTION, index, file_key), reason))
                changes.append(Change(SECTION, entry.name, "create"))
                continue
            changed = service.changed_fields(rt, current, wanted_fields(entry))
            changes.append(Change(SECTION, entry.name, "update" if changed else "unchanged", tuple(changed)))
        if problems:
            raise ConfigFileError(loaded.file, problems)
        named = self._entries(loaded)
        for name in sorted(set(existing) - set(named)):
            changes.append(Change(SECTION, name, "remove" if prune else "keep"))
        return changes

    async def prepare(
        self, rt: Runtime, loaded: LoadedConfig, changes: list[Change], report: ApplyReport
    ) -> None:
        entries = self._entries(loaded)
        to_check = [
            c
            for c in changes
            if c.action == "create" or (c.action == "update" and service.needs_check(list(c.fields)))
        ]

        async def run(change: Change) -> None:
            entry = entries[change.name]
            secret = entry.secret
            if isinstance(secret, UnsetVar):  # a new corp_id with the stored secret
                async with rt.db.read() as session:
                    stored = await service.find_connection(session, entry.name)
                secret = rt.secrets.open(stored.secret_enc) if stored else ""
            self._checks[change.name] = await service.check_connection(
                rt, corp_id=entry.corp_id, secret=secret
            )

        await asyncio.gather(*(run(c) for c in to_check))
        for change in to_check:
            check = self._checks[change.name]
            if check.ok:
                report.notes.append(f"{SECTION}.{change.name}: {check.message}")
            else:
                report.warnings.append(
                    f"{SECTION}.{change.name}: saved, but the check against WeCom failed: {check.message}"
                )

    async def apply(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, changes: list[Change]
    ) -> None:
        entries = self._entries(loaded)
        actor, now = config_actor(loaded), rt.clock.now()
        for change in changes:
            before = after = None
            if change.action == "create":
                entry = entries[change.name]
                fields = service.ConnectionFields(
                    name=entry.name,
                    corp_id=entry.corp_id,
                    secret=str(entry.secret),
                    callback_token=str(entry.callback_token),
                    aes_key=str(entry.encoding_aes_key),
                    bootstrap=entry.bootstrap,
                )
                row = await service.store_new_connection(session, rt, fields, self._check(change.name))
                after = connection_view(row)
            elif change.action == "update":
                row = await self._current(session, change.name)
                before = connection_view(row)
                check = self._checks.get(change.name)
                await service.store_connection_changes(
                    session, rt, row, wanted_fields(entries[change.name]), check
                )
                after = connection_view(row)
            elif change.action == "remove":
                row = await self._current(session, change.name)
                before = connection_view(row)
                await session.delete(row)
            else:
                continue
            # The audit log shows what the file changed, as it shows the console's changes.
            action = {"create": "connection.create", "update": "connection.update"}.get(
                change.action, "connection.delete"
            )
            await record(
                session,
                actor=actor,
                action=action,
                target=f"connection:{row.id}",
                before=before,
                after=after,
                now=now,
            )

    def _check(self, name: str) -> service.ConnectionCheck:
        return self._checks.get(name) or service.not_checked("not checked against WeCom")

    async def _current(self, session: AsyncSession, name: str) -> Connection:
        current = await service.find_connection(session, name)
        assert current is not None  # the re-plan in this transaction found it
        return current
