"""What the audit log compares of a connection or an account (kefu.audit.log.record keeps only
the fields that changed). The services record these in the change's own transaction."""

from __future__ import annotations

from typing import Any

from kefu.accounts.models import Connection, KfAccount


def connection_view(connection: Connection) -> dict[str, Any]:
    """The sealed secrets stand in for the secrets (a reseal means a new value): the log writes
    only that they changed, never a value."""
    return {
        "name": connection.name,
        "corp_id": connection.corp_id,
        "bootstrap": connection.bootstrap,
        "secret": connection.secret_enc,
        "callback_token": connection.callback_token_enc,
        "encoding_aes_key": connection.aes_key_enc,
        "last_check_ok": connection.last_check_ok,
    }


def account_view(account: KfAccount) -> dict[str, Any]:
    """An account's own fields (its settings, servicers and link are logged on their own)."""
    return {"name": account.name, "avatar_sha256": account.avatar_sha256, "enabled": account.enabled}
