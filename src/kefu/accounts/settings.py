"""An account's settings and the global `ai:` section: load, validate, save — every change versioned.

An account's settings live on `KfAccount.settings` as the JSON of the config file's account
entry minus its identity (`AccountSettingsData`, defaults filled); `settings_version`
counts the changes and each change is a `SettingsVersion` row (scope `account:{id}`) with
who, when, through what, and the whole new value. The `ai:` section is the
`GlobalSetting('ai')`, versioned the same way under scope `ai`; its API key is sealed.

A save that does not change the value writes nothing (no version), so applying the same
config file twice leaves no trace. These helpers take the caller's session and never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import GlobalSetting, KfAccount, SettingsVersion
from kefu.accounts.settings_types import AccountSettingsData
from kefu.ai.settings import AISettings
from kefu.audit.log import record
from kefu.db import get_row
from kefu.db.engine import sync_url
from kefu.errors import Invalid
from kefu.schema_types import EXPORT, STORED, Problem, UnsetVar, validation_problems
from kefu.secretbox import SecretBox, SecretDecryptError

Source = Literal["console", "config", "api", "cli"]
AI_KEY = "ai"
AI_SCOPE = "ai"
_SEALED_API_KEY = "openai_api_key_sealed"  # beside the section in GlobalSetting.data, never in clear


class SettingsInvalid(Invalid):
    """Settings that cannot be saved: every problem at once, each a path, its English reason
    (the message: `path: reason; …`) and the code and values the console words it by."""

    code = "invalid_settings"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(self.lines()))

    def lines(self) -> list[str]:
        """Each problem as `path: reason`, in English (what the API and the CLI show)."""
        return [f"{p.path}: {p.reason}" if p.path else p.reason for p in self.problems]


def account_scope(account_id: int) -> str:
    return f"account:{account_id}"


def audit_actor(source: Source, changed_by: str) -> str:
    """The audit log's actor of a change: "console:alice", "api:ci-token", "config:kefu.yaml", "cli"."""
    if changed_by == source or changed_by.startswith(f"{source}:"):
        return changed_by
    return f"{source}:{changed_by}"


# --- account settings ----------------------------------------------------------------------


def stored_settings(account: KfAccount) -> AccountSettingsData:
    """The account's settings with defaults filled (an account never saved has the defaults)."""
    return AccountSettingsData.model_validate(account.settings or {}, context={STORED: True})


def validate_settings(
    data: Mapping[str, Any] | AccountSettingsData, *, ai: AISettings
) -> AccountSettingsData:
    """Parse and check settings, or raise SettingsInvalid naming each bad path and why.

    Besides each key's own rules: an AI mode needs an AI service (ai.provider not `none`)."""
    try:
        parsed = data if isinstance(data, AccountSettingsData) else AccountSettingsData.model_validate(data)
    except ValidationError as exc:
        raise SettingsInvalid(validation_problems(exc)) from exc
    try:
        parsed.check_ai(ai)
    except PydanticCustomError as exc:
        mode = Problem("reception.mode", None, exc.message(), exc.type, dict(exc.context or {}))
        raise SettingsInvalid([mode]) from exc
    return parsed


def settings_json(data: AccountSettingsData, *, export: bool = False) -> dict[str, Any]:
    """The settings as JSON; for an `export` (kefu config export) without the control characters
    a text stored before they were refused may hold (kefu.schema_types.EXPORT)."""
    return data.model_dump(mode="json", context={EXPORT: export})


async def get_account(session: AsyncSession, account_id: int) -> KfAccount:
    return await get_row(session, KfAccount, account_id, "account")


async def save_account_settings(
    session: AsyncSession,
    account: KfAccount,
    data: Mapping[str, Any] | AccountSettingsData,
    *,
    changed_by: str,
    source: Source,
    now: datetime,
    ai: AISettings | None = None,
) -> SettingsVersion | None:
    """Validate and store; a new `SettingsVersion` and an audit event (actor from `source` and
    `changed_by`, see `audit_actor`) only when the value changed (else None).

    `ai` is the AI section to check the mode against (default: the stored one). The account
    row is re-read under a row lock (PostgreSQL) so two writers cannot both take version N+1.
    """
    parsed = validate_settings(data, ai=ai or await load_ai_settings(session))
    locked = await get_row(
        session, KfAccount, account.id, "account", with_for_update=True, populate_existing=True
    )
    value = settings_json(parsed)
    before = settings_json(stored_settings(locked))
    if value == before:
        return None  # (an account never saved has the defaults in effect: nothing to record)
    locked.settings = value
    locked.settings_version += 1
    locked.updated_at = now
    # The audit log keeps only the fields that changed; the version row keeps the whole value.
    await record(
        session,
        actor=audit_actor(source, changed_by),
        action="account.settings.update",
        target=account_scope(locked.id),
        before=before,
        after=value,
        now=now,
    )
    return await _record_version(
        session, account_scope(locked.id), locked.settings_version, value, changed_by, source, now
    )


async def _record_version(
    session: AsyncSession,
    scope: str,
    version: int,
    data: dict[str, Any],
    changed_by: str,
    source: Source,
    now: datetime,
) -> SettingsVersion:
    """The history row of a settings change (account or global), beside the new value."""
    row = SettingsVersion(
        scope=scope, version=version, data=data, changed_by=changed_by[:64], source=source, changed_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def list_versions(session: AsyncSession, scope: str) -> list[SettingsVersion]:
    """Every recorded change of a scope, newest first."""
    query = (
        select(SettingsVersion).where(SettingsVersion.scope == scope).order_by(SettingsVersion.version.desc())
    )
    return list((await session.scalars(query)).all())


# --- the ai: section -----------------------------------------------------------------------


def validate_ai_settings(data: Mapping[str, Any]) -> AISettings:
    """Parse and check the `ai:` section as the console gives it, or raise SettingsInvalid
    naming each bad path (the config file checks the same schema, with lines)."""
    try:
        return AISettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsInvalid(validation_problems(exc)) from exc


def ai_from_stored(data: Mapping[str, Any] | None, secrets: SecretBox | None = None) -> AISettings:
    """The stored section; the API key is opened only when `secrets` is given (else None)."""
    if not data:
        return AISettings()
    values = {k: v for k, v in data.items() if k != _SEALED_API_KEY}
    if isinstance(values.get("not_sure_text"), str) and not values["not_sure_text"].strip():
        # Saved before a blank one was refused (the console and the config file took it): read
        # as the default, or every message's settings would fail to load and none be processed.
        del values["not_sure_text"]
    sealed = data.get(_SEALED_API_KEY)
    if values.get("openai") is not None:
        api_key = None
        if sealed and secrets is not None:
            try:
                api_key = secrets.open(sealed)
            except SecretDecryptError:
                api_key = None  # sealed under an older KEFU_SECRET_KEY: a given value replaces it
        values["openai"] = {**values["openai"], "api_key": api_key}
    return AISettings.model_validate(values, context={STORED: True})


def has_stored_api_key(data: Mapping[str, Any] | None) -> bool:
    return bool(data and data.get(_SEALED_API_KEY))


async def load_ai_settings(session: AsyncSession, secrets: SecretBox | None = None) -> AISettings:
    row = await session.get(GlobalSetting, AI_KEY)
    return ai_from_stored(row.data if row else None, secrets)


def stored_retrieval(database_url: str) -> str:
    """`ai.retrieval` as stored, read once at a process's start (a short sync connection of its
    own): whether warming up the embedding model is worth its memory. "auto" if unreadable."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            data = conn.execute(select(GlobalSetting.data).where(GlobalSetting.key == AI_KEY)).scalar()
    except SQLAlchemyError:
        return "auto"
    finally:
        engine.dispose()
    return ai_from_stored(data).retrieval


def with_stored_api_key(wanted: AISettings, stored: AISettings) -> AISettings:
    """`wanted` with an `${VAR}` API key whose variable is unset replaced by the stored key."""
    if wanted.openai is None or not isinstance(wanted.openai.api_key, UnsetVar):
        return wanted
    kept = stored.openai.api_key if stored.openai is not None else None
    return wanted.model_copy(update={"openai": wanted.openai.model_copy(update={"api_key": kept})})


def _public_json(ai: AISettings) -> dict[str, Any]:
    data = ai.model_dump(mode="json", exclude={"openai": {"api_key"}})
    if data.get("openai") is not None:
        data["openai"]["api_key"] = None
    return data


def _audited_ai(ai: AISettings) -> dict[str, Any]:
    """The section as the audit log compares it: the key by a digest (the log masks it anyway)."""
    data = _public_json(ai)
    if ai.openai is not None:
        key = ai.openai.api_key
        data["openai"]["api_key"] = hashlib.sha256(str(key).encode()).hexdigest() if key else None
    return data


async def save_ai_settings(
    session: AsyncSession,
    ai: AISettings,
    *,
    secrets: SecretBox,
    changed_by: str,
    source: Source,
    now: datetime,
) -> SettingsVersion | None:
    """Store the `ai:` section (API key sealed); a new version only when the value changed,
    audited as `changed_by` (the key only as "(changed)")."""
    if ai.openai is not None and isinstance(ai.openai.api_key, UnsetVar):
        raise Invalid(f"environment variable {ai.openai.api_key.name} is not set (ai.openai.api_key)")
    row = await session.get(GlobalSetting, AI_KEY, with_for_update=True, populate_existing=True)
    current = ai_from_stored(row.data if row else None, secrets)
    if current == ai:
        return None
    data = _public_json(ai)
    api_key = ai.openai.api_key if ai.openai is not None else None
    await record(
        session,
        actor=audit_actor(source, changed_by),
        action="ai.update",
        target=AI_KEY,
        before=_audited_ai(current),
        after=_audited_ai(ai),
        now=now,
    )
    if api_key:
        data[_SEALED_API_KEY] = secrets.seal(api_key)
    if row is None:
        row = GlobalSetting(key=AI_KEY, data=data, version=1, updated_at=now)
        session.add(row)
    else:
        row.data, row.version, row.updated_at = data, row.version + 1, now
    return await _record_version(session, AI_SCOPE, row.version, data, changed_by, source, now)


async def ai_version(session: AsyncSession) -> int:
    """The `ai:` section's version (0 = never saved): part of cache keys built on it."""
    return int(await session.scalar(select(GlobalSetting.version).where(GlobalSetting.key == AI_KEY)) or 0)
