"""`accounts[].knowledge_base: path.csv`: the account's knowledge base is the file's entries.

The path is relative to the config file. The CSV is the one `kefu kb import` reads; here it
replaces the account's entries (those not in the file are removed), and — all or nothing — a
file with a bad row is refused with each row's line and reason, and nothing is applied.
Left out, the account's knowledge base stays as it is.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.knowledge_base import list_entries, plan_entries, put_entries
from kefu.ai.kb_csv import KbCsvError, parse_kb_csv
from kefu.ai.knowledge import KnowledgeEntry
from kefu.config.accounts import find_row
from kefu.config.ai import config_actor
from kefu.config.loader import ConfigFileError, LoadedConfig
from kefu.config.report import ApplyReport, Change
from kefu.runtime import Runtime
from kefu.schema_types import Problem

SECTION = "knowledge_base"


class KnowledgeBaseApplier:
    section = SECTION

    def __init__(self) -> None:
        self._entries: dict[str, list[KnowledgeEntry]] = {}

    async def plan(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, *, prune: bool
    ) -> list[Change]:
        if "accounts" not in loaded.config.model_fields_set:
            return []
        problems: list[Problem] = []
        changes: list[Change] = []
        for index, entry in enumerate(loaded.config.accounts):
            if entry.knowledge_base is None:
                continue
            where = ("accounts", index, SECTION)
            file = loaded.base_dir / entry.knowledge_base
            try:
                parsed = parse_kb_csv(file.read_bytes())
            except OSError as exc:
                problems.append(loaded.problem(where, f"cannot read {file}: {exc.strerror or exc}"))
                continue
            except KbCsvError as exc:
                problems.append(loaded.problem(where, f"{entry.knowledge_base}: {exc.message}"))
                continue
            for error in parsed.errors:
                problems.append(
                    loaded.problem(where, f"{entry.knowledge_base} line {error.line}: {error.reason}")
                )
            self._entries[entry.key] = parsed.entries
            row = await find_row(session, entry)
            if row is None:
                changes.append(Change(SECTION, entry.key, "create", (f"{len(parsed.entries)} entries",)))
                continue
            planned = plan_entries(await list_entries(session, row.id), parsed.entries, replace=True)
            changes.append(
                Change(SECTION, entry.key, "update" if planned.any else "unchanged", planned.describe())
            )
        if problems:
            raise ConfigFileError(loaded.file, problems)
        return changes

    async def prepare(
        self, rt: Runtime, loaded: LoadedConfig, changes: list[Change], report: ApplyReport
    ) -> None:
        return None  # the knowledge base lives in Kefu only

    async def apply(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, changes: list[Change]
    ) -> None:
        entries = {entry.key: entry for entry in loaded.config.accounts}
        for change in changes:
            if change.action not in ("create", "update"):
                continue
            row = await find_row(session, entries[change.name])
            assert row is not None  # stored by the accounts section in this transaction
            await put_entries(
                session,
                row.id,
                self._entries[change.name],
                replace=True,
                now=rt.clock.now(),
                actor=config_actor(loaded),
            )
