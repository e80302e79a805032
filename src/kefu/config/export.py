"""`kefu config export`: the database as a config file that applies back to the same state.

Secrets are never written: each is a `${NAME}` placeholder (e.g. `${QINGHE_KF_SECRET}`),
and applying the file with those variables unset keeps the stored values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kefu.accounts import service
from kefu.accounts.models import Connection
from kefu.config.export_accounts import API_KEY_VARIABLE, accounts_documents, ai_document
from kefu.config.schema import SCHEMA_VERSION
from kefu.runtime import Runtime

PLACEHOLDER_SUFFIXES = {"secret": "KF_SECRET", "callback_token": "CB_TOKEN", "encoding_aes_key": "AES_KEY"}


def variable_stem(name: str) -> str:
    """qinghe → QINGHE, shop-2 → SHOP_2; a leading digit gets a prefix (shell names cannot start with one)."""
    stem = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    return f"C_{stem}" if stem[:1].isdigit() else stem


def _stems(connections: list[Connection]) -> dict[int, str]:
    """One variable stem per connection; names that map to the same stem get their id appended."""
    stems = {c.id: variable_stem(c.name) for c in connections}
    values = list(stems.values())
    return {cid: f"{stem}_{cid}" if values.count(stem) > 1 else stem for cid, stem in stems.items()}


def connection_entry(connection: Connection, stem: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": connection.name, "corp_id": connection.corp_id}
    for key, suffix in PLACEHOLDER_SUFFIXES.items():
        entry[key] = f"${{{stem}_{suffix}}}"
    entry["bootstrap"] = connection.bootstrap
    return entry


async def export_config(rt: Runtime, *, out_dir: Path | None = None) -> str:
    """The database as a config file; `out_dir` (where the file goes) also receives the
    accounts' knowledge bases as CSV files under kb/ (see config/export_accounts.py)."""
    async with rt.db.read() as session:
        connections = await service.list_connections(session)
        ai = await ai_document(session)
        accounts = await accounts_documents(session, connections, out_dir)
    stems = _stems(connections)
    document: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "connections": [connection_entry(c, stems[c.id]) for c in connections],
    }
    if ai is not None:
        document["ai"] = ai
    if accounts:
        document["accounts"] = accounts
    variables = [f"{stems[c.id]}_{s}" for c in connections for s in PLACEHOLDER_SUFFIXES.values()]
    if ai is not None and ai.get("openai") and ai["openai"].get("api_key"):
        variables.append(API_KEY_VARIABLE)
    header = [
        f"# Kefu configuration, schema version {SCHEMA_VERSION} (docs/configuration.md), "
        "exported by `kefu config export`.",
        "# Secrets are not exported. Applying this file with a variable unset keeps the stored value;",
        "# set it to change the secret (a NEW connection needs all three).",
    ]
    if variables:
        header.append(f"# Variables: {', '.join(variables)}")
    if accounts and out_dir is None:
        header.append(
            "# Knowledge bases are exported as CSV beside the file with --out (left out here: kept)."
        )
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return "\n".join(header) + "\n\n" + body
