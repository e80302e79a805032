"""`kefu config export` of the `ai` and `accounts` sections, so that the export applies back to
an identical state: every account with its open_kfid, name, avatar file, servicers and all its
settings (defaults written out), and its knowledge base as a CSV beside the file.

Avatars are not stored in Kefu, only the path they were applied from and their SHA-256: the
export refers to that file (relative to the exported file) while it exists, else leaves the
key out (keep the current image). Knowledge bases are written to `kb/` beside the exported
file when it has a place (`--out`), each whole or not at all as the file itself
(cli_runtime.replace_file); to stdout they are left out (apply then keeps them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.knowledge_base import entries_csv, list_entries
from kefu.accounts.models import Connection, GlobalSetting, KfAccount
from kefu.accounts.service import list_accounts
from kefu.accounts.servicers import list_servicers
from kefu.accounts.settings import AI_KEY, ai_from_stored, has_stored_api_key, settings_json, stored_settings
from kefu.accounts.settings_types import SETTINGS_KEYS
from kefu.cli_runtime import replace_file
from kefu.schema_types import EXPORT

API_KEY_VARIABLE = "LLM_API_KEY"
KB_DIR = "kb"


async def ai_document(session: AsyncSession) -> dict[str, Any] | None:
    """The `ai:` section as stored (None when it was never set: the file then leaves it alone)."""
    row = await session.get(GlobalSetting, AI_KEY)
    if row is None:
        return None
    document = ai_from_stored(row.data).model_dump(mode="json", context={EXPORT: True})
    if document.get("openai") is not None:
        has_key = has_stored_api_key(row.data)
        document["openai"]["api_key"] = f"${{{API_KEY_VARIABLE}}}" if has_key else None
    return document


def _avatar_reference(account: KfAccount, out_dir: Path | None) -> str | None:
    if not account.avatar_path or not Path(account.avatar_path).is_file():
        return None
    return os.path.relpath(account.avatar_path, out_dir) if out_dir is not None else account.avatar_path


async def account_document(
    session: AsyncSession, connection: Connection, account: KfAccount, out_dir: Path | None
) -> dict[str, Any]:
    document: dict[str, Any] = {"connection": connection.name, "open_kfid": account.open_kfid}
    if 1 <= len(account.name) <= 16:
        document["name"] = account.name
    if (avatar := _avatar_reference(account, out_dir)) is not None:
        document["avatar"] = avatar
    document["enabled"] = account.enabled
    settings = settings_json(stored_settings(account), export=True)
    document["timezone"] = settings["timezone"]
    document["servicers"] = [
        {
            "userid": s.userid,
            **({"max_sessions": s.max_sessions} if s.max_sessions else {}),
            **({"name": s.name} if s.name else {}),
        }
        for s in await list_servicers(session, account.id)
    ]
    document.update({key: settings[key] for key in SETTINGS_KEYS if key != "timezone"})
    entries = await list_entries(session, account.id)
    if entries and out_dir is not None:
        relative = f"{KB_DIR}/{connection.name}-{account.open_kfid}.csv"
        (out_dir / KB_DIR).mkdir(parents=True, exist_ok=True)
        replace_file(out_dir / relative, entries_csv(entries).encode())  # as the file: whole or not at all
        document["knowledge_base"] = relative
    return document


async def accounts_documents(
    session: AsyncSession, connections: list[Connection], out_dir: Path | None
) -> list[dict[str, Any]]:
    return [
        await account_document(session, connection, account, out_dir)
        for connection in connections
        for account in await list_accounts(session, connection.id)
    ]
