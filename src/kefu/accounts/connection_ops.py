"""The changes of a connection a person asks for (console, REST API, CLI, demo): create, update,
recheck and delete, each recorded in the audit log under its `actor`.

Each owns its transactions: create, update and recheck check the credentials against WeCom
*before* writing (no network call inside a transaction). Apart from kefu.accounts.service,
whose session-level helpers they compose, as config apply does in one transaction of its own.
"""

from __future__ import annotations

from typing import Any

from kefu.accounts.audited import connection_view
from kefu.accounts.check import ConnectionCheck, check_connection
from kefu.accounts.models import Connection
from kefu.accounts.schemas import check_out, validate_fields
from kefu.accounts.service import (
    ConnectionFields,
    _ensure_name_free,
    changed_fields,
    get_connection,
    load_connection_secrets,
    needs_check,
    record_check,
    store_connection_changes,
    store_new_connection,
    upsert_accounts,
)
from kefu.audit.log import record
from kefu.errors import Conflict, Invalid
from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger(__name__)


class CheckFailed(Invalid):
    """The check against WeCom failed and the caller did not ask to save anyway."""

    code = "check_failed"

    def __init__(self, check: ConnectionCheck) -> None:
        super().__init__(f"{check.message} Nothing was saved (use --no-check / check=false to save anyway).")
        self.check = check

    def details(self) -> dict[str, Any]:
        return {"check": check_out(self.check).model_dump()}


async def create_connection(
    rt: Runtime,
    *,
    name: str,
    corp_id: str,
    secret: str,
    callback_token: str,
    aes_key: str,
    bootstrap: str = "skip",
    check: bool = True,
    actor: str = "cli",
) -> tuple[Connection, ConnectionCheck]:
    """Validate, check against WeCom, then store the connection and its accounts in one transaction
    (with its audit event, by `actor`).

    A failed check raises CheckFailed unless `check=False`, which saves with the failure recorded."""
    validate_fields(
        name=name,
        corp_id=corp_id,
        secret=secret,
        callback_token=callback_token,
        aes_key=aes_key,
        bootstrap=bootstrap,
    )
    async with rt.db.read() as session:
        await _ensure_name_free(session, name)  # fail fast, before calling WeCom
    result = await check_connection(rt, corp_id=corp_id, secret=secret)
    if not result.ok and check:
        raise CheckFailed(result)
    fields = ConnectionFields(name, corp_id, secret, callback_token, aes_key, bootstrap)
    async with rt.db.write() as session:
        connection = await store_new_connection(session, rt, fields, result)
        await record(
            session,
            actor=actor,
            action="connection.create",
            target=f"connection:{connection.id}",
            after=connection_view(connection),
            now=rt.clock.now(),
        )
    log.info("connection.created", connection_id=connection.id, name=name, check_problem=result.problem)
    return connection, result


async def update_connection(
    rt: Runtime,
    connection_id: int,
    *,
    name: str | None = None,
    corp_id: str | None = None,
    secret: str | None = None,
    callback_token: str | None = None,
    aes_key: str | None = None,
    bootstrap: str | None = None,
    check: bool = True,
    actor: str = "cli",
) -> tuple[Connection, ConnectionCheck | None]:
    """Change the given fields; a new corp_id or secret is checked first (as on create)."""
    validate_fields(
        name=name,
        corp_id=corp_id,
        secret=secret,
        callback_token=callback_token,
        aes_key=aes_key,
        bootstrap=bootstrap,
    )
    wanted = {
        "name": name,
        "corp_id": corp_id,
        "secret": secret,
        "callback_token": callback_token,
        "aes_key": aes_key,
        "bootstrap": bootstrap,
    }
    async with rt.db.read() as session:
        current = await get_connection(session, connection_id)
        changed = changed_fields(rt, current, wanted)
        if "name" in changed:
            await _ensure_name_free(session, str(name), except_id=connection_id)
        # Open the stored secret only when needed: it may be sealed under an older key.
        old_secret = "" if secret or not needs_check(changed) else rt.secrets.open(current.secret_enc)
    result: ConnectionCheck | None = None
    if needs_check(changed):
        result = await check_connection(rt, corp_id=corp_id or current.corp_id, secret=secret or old_secret)
        if not result.ok and check:
            raise CheckFailed(result)
    async with rt.db.write() as session:
        connection = await get_connection(session, connection_id)
        if needs_check(changed_fields(rt, connection, wanted)) and result is None:
            raise Conflict(
                "the connection changed while it was being updated; try again", "changed_meanwhile"
            )
        before = connection_view(connection)
        changed = await store_connection_changes(session, rt, connection, wanted, result)
        await record(
            session,
            actor=actor,
            action="connection.update",
            target=f"connection:{connection_id}",
            before=before,
            after=connection_view(connection),
            now=rt.clock.now(),
        )
    log.info("connection.updated", connection_id=connection_id, changed=changed)
    return connection, result


async def recheck_connection(
    rt: Runtime, connection_id: int, *, actor: str = "cli"
) -> tuple[Connection, ConnectionCheck]:
    """Check the stored credentials again, record the result, and on success refresh the accounts."""
    async with rt.db.read() as session:
        connection = await get_connection(session, connection_id)
        stored = load_connection_secrets(rt, connection)
    result = await check_connection(rt, corp_id=connection.corp_id, secret=stored.secret)
    async with rt.db.write() as session:
        connection = await get_connection(session, connection_id)
        before = connection_view(connection)
        record_check(connection, result)
        if result.ok:
            await upsert_accounts(session, rt, connection, result.accounts)
        await record(
            session,
            actor=actor,
            action="connection.check",
            target=f"connection:{connection_id}",
            before=before,
            after=connection_view(connection),
            now=rt.clock.now(),
        )
    return connection, result


async def delete_connection(rt: Runtime, connection_id: int, *, actor: str = "cli") -> Connection:
    """Delete a connection; its accounts, messages and events go with it (ON DELETE CASCADE)."""
    async with rt.db.write() as session:
        connection = await get_connection(session, connection_id)
        await record(
            session,
            actor=actor,
            action="connection.delete",
            target=f"connection:{connection_id}",
            before=connection_view(connection),
            now=rt.clock.now(),
        )
        await session.delete(connection)
    log.info("connection.deleted", connection_id=connection_id, name=connection.name)
    return connection
