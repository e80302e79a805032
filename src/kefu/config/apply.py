"""`kefu config apply`: make the database match a config file, all or nothing.

One applier per top-level section. Each one:
- `plan(rt, session, loaded, prune=)` compares the file with the database (read only)
  and returns its changes; a problem it finds (e.g. a new connection whose secret
  variable is unset) raises ConfigFileError;
- `prepare(rt, loaded, changes, report)` does the network work (WeCom checks) outside
  any transaction and adds its notes and warnings to the report;
- `apply(rt, session, loaded, changes)` writes, inside the one transaction of the run.

The run plans every section, then prepares, then opens ONE write transaction that
re-plans (refusing if the database moved meanwhile) and applies every section, in
order: `connections`, `ai`, `accounts` (their WeCom calls in `prepare`), `knowledge_base`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts import service as accounts_service
from kefu.config.loader import ConfigFileError, LoadedConfig
from kefu.config.report import ApplyReport, Change
from kefu.errors import Conflict, Invalid
from kefu.runtime import Runtime


class SectionApplier(Protocol):
    section: str

    async def plan(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, *, prune: bool
    ) -> list[Change]: ...

    async def prepare(
        self, rt: Runtime, loaded: LoadedConfig, changes: list[Change], report: ApplyReport
    ) -> None: ...

    async def apply(
        self, rt: Runtime, session: AsyncSession, loaded: LoadedConfig, changes: list[Change]
    ) -> None: ...


def make_appliers(*, delete_in_wecom: bool = False) -> list[SectionApplier]:
    """A fresh applier per section for one run (they keep what `prepare` learned)."""
    from kefu.config.accounts import AccountsApplier
    from kefu.config.ai import AIApplier
    from kefu.config.connections import ConnectionsApplier
    from kefu.config.knowledge import KnowledgeBaseApplier

    accounts = AccountsApplier(delete_in_wecom=delete_in_wecom)
    return [ConnectionsApplier(), AIApplier(), accounts, KnowledgeBaseApplier()]


async def check_references(session: AsyncSession, loaded: LoadedConfig) -> None:
    """accounts[].connection names a connection of the file or of the database."""
    named = {c.name for c in loaded.config.connections}
    named |= {c.name for c in await accounts_service.list_connections(session)}
    problems = [
        loaded.problem(
            ("accounts", i, "connection"), f"no connection named {a.connection!r} in the file or saved"
        )
        for i, a in enumerate(loaded.config.accounts)
        if a.connection not in named
    ]
    if problems:
        raise ConfigFileError(loaded.file, problems)


async def apply_config(
    rt: Runtime,
    loaded: LoadedConfig,
    *,
    prune: bool = False,
    delete_in_wecom: bool = False,
    dry_run: bool = False,
    announce: Callable[[ApplyReport], None] | None = None,
) -> ApplyReport:
    """Plan, show (`announce`, before anything is written), prepare, and apply in one transaction.

    `prune` removes from Kefu what the file does not name; an account stays in WeCom (its contact
    link and its customers' sessions live there) unless `delete_in_wecom` also asks for that."""
    if delete_in_wecom and not prune:
        raise Invalid("deleting accounts in WeCom is a kind of --prune: give both")
    appliers = make_appliers(delete_in_wecom=delete_in_wecom)
    report = ApplyReport(file=loaded.file, dry_run=dry_run)
    async with rt.db.read() as session:
        await check_references(session, loaded)
        plans, problems = {}, []
        for applier in appliers:  # every section's problems at once (a missing avatar and kb file)
            try:
                plans[applier.section] = await applier.plan(rt, session, loaded, prune=prune)
            except ConfigFileError as exc:
                problems += exc.problems
        if problems:
            raise ConfigFileError(loaded.file, problems)
    report.changes = [c for a in appliers for c in plans[a.section]]
    if announce is not None:
        announce(report)
    if dry_run or not report.pending:
        return report
    for applier in appliers:
        await applier.prepare(rt, loaded, plans[applier.section], report)
    async with rt.db.write() as session:
        for applier in appliers:
            if await applier.plan(rt, session, loaded, prune=prune) != plans[applier.section]:
                raise Conflict(
                    f"the {applier.section} in the database changed while applying {loaded.file}; "
                    "nothing was changed: run apply again"
                )
        for applier in appliers:
            await applier.apply(rt, session, loaded, plans[applier.section])
    return report
