"""The `ai` section of the config file: one versioned GlobalSetting('ai').

Left out of the file, the stored section stays as it is. `api_key: ${VAR}` with VAR unset
keeps the stored key (as secrets of connections do).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.settings import load_ai_settings, save_ai_settings, with_stored_api_key
from kefu.ai.settings import AISettings
from kefu.config.loader import LoadedConfig
from kefu.config.report import ApplyReport, Change
from kefu.runtime import Runtime

SECTION = "ai"


def config_actor(loaded: LoadedConfig) -> str:
    """`changed_by` of what a config apply writes: the file's name."""
    return f"config:{Path(loaded.file).name}"[:64]


async def wanted_ai(rt: Runtime, session: AsyncSession, loaded: LoadedConfig) -> AISettings:
    """The `ai:` section once the file is applied: the file's (its unset key kept), else the stored one."""
    stored = await load_ai_settings(session, rt.secrets)
    if SECTION not in loaded.config.model_fields_set:
        return stored
    return with_stored_api_key(loaded.config.ai, stored)


def changed_keys(current: AISettings, wanted: AISettings) -> tuple[str, ...]:
    keys = [k for k in AISettings.model_fields if getattr(current, k) != getattr(wanted, k)]
    return tuple(keys)


class AIApplier:
    section = SECTION

    async def plan(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, *, prune: bool
    ) -> list[Change]:
        if SECTION not in loaded.config.model_fields_set:
            return []
        fields = changed_keys(
            await load_ai_settings(session, rt.secrets), await wanted_ai(rt, session, loaded)
        )
        return [Change(SECTION, SECTION, "update" if fields else "unchanged", fields)]

    async def prepare(
        self, rt: Runtime, loaded: LoadedConfig, changes: list[Change], report: ApplyReport
    ) -> None:
        return None  # nothing to ask WeCom

    async def apply(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, changes: list[Change]
    ) -> None:
        if any(c.action == "update" for c in changes):
            await save_ai_settings(
                session,
                await wanted_ai(rt, session, loaded),
                secrets=rt.secrets,
                changed_by=config_actor(loaded),
                source="config",
                now=rt.clock.now(),
            )
