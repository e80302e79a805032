"""Knowledge entries per account (the built-in AI's knowledge base); the AI built on them is
kefu.accounts.knowledge_provider.

Rows are `KnowledgeEntryRow`s keyed by (account, entry id). Every write stamps the rows it
touches with an `updated_at` later than any the account had, so (count, max(updated_at))
changes with every write — the fingerprint `knowledge_provider.provider_for_account` compares on each call to
pick up a change made by another process, without reading the whole knowledge base.

An account without entries answers "not sure" to everything; the demo imports its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import KfAccount, KnowledgeEntryRow
from kefu.ai.kb_csv import EXPORT_COLUMNS, OPTIONAL_COLUMNS, RowError, entry_cells, load_demo_entries
from kefu.ai.kb_xlsx import parse_kb_file
from kefu.ai.knowledge import KnowledgeEntry
from kefu.audit.log import record
from kefu.db import get_row
from kefu.errors import NotFound
from kefu.runtime import Runtime
from kefu.spreadsheet import csv_cell

_TICK = timedelta(microseconds=1)


@dataclass
class KbChanges:
    """What a write did (or a plan would do) to an account's knowledge base, by entry id."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> tuple[str, ...]:
        parts = [(len(self.added), "added"), (len(self.changed), "changed"), (len(self.removed), "removed")]
        return tuple(f"{n} {what}" for n, what in parts if n)


@dataclass
class KbImport:
    changes: KbChanges
    errors: list[RowError]
    removal_skipped: bool = False  # --replace with bad rows removes nothing (a bad row may be an edit)


def to_entry(row: KnowledgeEntryRow) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=row.entry_id,
        question=row.question,
        answer=row.answer,
        alt_questions=list(row.alt_questions or []),
        tags=list(row.tags or []),
        enabled=row.enabled,
    )


def plan_entries(
    current: Sequence[KnowledgeEntry], wanted: Sequence[KnowledgeEntry], *, replace: bool
) -> KbChanges:
    """Pure: what writing `wanted` over `current` changes (`replace` also removes the others)."""
    have = {e.id: e for e in current}
    changes = KbChanges()
    for entry in wanted:
        if entry.id not in have:
            changes.added.append(entry.id)
        elif have[entry.id] != entry:
            changes.changed.append(entry.id)
        else:
            changes.unchanged += 1
    if replace:
        wanted_ids = {e.id for e in wanted}
        changes.removed = [e.id for e in current if e.id not in wanted_ids]
    return changes


# --- session-level helpers (never commit) -------------------------------------------------


async def list_entries(session: AsyncSession, account_id: int) -> list[KnowledgeEntry]:
    query = select(KnowledgeEntryRow).where(KnowledgeEntryRow.account_id == account_id)
    return [to_entry(row) for row in (await session.scalars(query.order_by(KnowledgeEntryRow.id))).all()]


async def _fingerprint(session: AsyncSession, account_id: int) -> tuple[int, datetime | None]:
    count, newest = (
        await session.execute(
            select(func.count(KnowledgeEntryRow.id), func.max(KnowledgeEntryRow.updated_at)).where(
                KnowledgeEntryRow.account_id == account_id
            )
        )
    ).one()
    return int(count), newest


async def _stamp(session: AsyncSession, account_id: int, now: datetime) -> datetime:
    """`now`, or just after the account's newest stamp (a frozen or slow clock still moves it)."""
    _count, newest = await _fingerprint(session, account_id)
    return now if newest is None or now > newest else newest + _TICK


async def put_entries(
    session: AsyncSession,
    account_id: int,
    entries: Sequence[KnowledgeEntry],
    *,
    replace: bool,
    now: datetime,
    actor: str | None = None,
) -> KbChanges:
    """Insert or update `entries` by id; `replace` also deletes the account's other entries.
    With an `actor` ("console:alice", "api:erp", "config"), each change is audited."""
    await get_row(session, KfAccount, account_id, "account")
    rows = {
        r.entry_id: r
        for r in (
            await session.scalars(select(KnowledgeEntryRow).where(KnowledgeEntryRow.account_id == account_id))
        ).all()
    }
    before = {entry_id: to_entry(r) for entry_id, r in rows.items()}
    changes = plan_entries(list(before.values()), entries, replace=replace)
    if not changes.any:
        return changes
    stamp = await _stamp(session, account_id, now)
    touched = set(changes.added) | set(changes.changed)
    for entry in entries:
        if entry.id not in touched:
            continue
        row = rows.get(entry.id)
        if row is None:
            row = KnowledgeEntryRow(account_id=account_id, entry_id=entry.id)
            session.add(row)
        row.question, row.answer = entry.question, entry.answer
        row.alt_questions, row.tags = list(entry.alt_questions), list(entry.tags)
        row.enabled = entry.enabled
        row.updated_at = stamp
    if actor is not None:
        await _audit(session, account_id, before, entries, changes, actor, now)
    if changes.removed:
        await session.execute(
            delete(KnowledgeEntryRow).where(
                KnowledgeEntryRow.account_id == account_id, KnowledgeEntryRow.entry_id.in_(changes.removed)
            )
        )
    await session.flush()
    return changes


def _target(account_id: int, entry_id: str) -> str:
    return f"account:{account_id}/knowledge:{entry_id}"


async def _audit(
    session: AsyncSession,
    account_id: int,
    before: dict[str, KnowledgeEntry],
    entries: Sequence[KnowledgeEntry],
    changes: KbChanges,
    actor: str,
    now: datetime,
) -> None:
    wanted = {e.id: e for e in entries}
    for entry_id, action in [(i, "create") for i in changes.added] + [(i, "update") for i in changes.changed]:
        was = before[entry_id].model_dump() if entry_id in before else None
        await record(
            session,
            actor=actor,
            action=f"knowledge.{action}",
            target=_target(account_id, entry_id),
            before=was,
            after=wanted[entry_id].model_dump(),
            now=now,
        )
    for entry_id in changes.removed:
        await record(
            session,
            actor=actor,
            action="knowledge.delete",
            target=_target(account_id, entry_id),
            before=before[entry_id].model_dump(),
            now=now,
        )


async def delete_entry(
    session: AsyncSession,
    account_id: int,
    entry_id: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> None:
    row = await session.scalar(
        select(KnowledgeEntryRow).where(
            KnowledgeEntryRow.account_id == account_id, KnowledgeEntryRow.entry_id == entry_id
        )
    )
    if row is not None and actor is not None:
        await record(
            session,
            actor=actor,
            action="knowledge.delete",
            target=_target(account_id, entry_id),
            before=to_entry(row).model_dump(),
            now=now,
        )
    result = await session.execute(
        delete(KnowledgeEntryRow).where(
            KnowledgeEntryRow.account_id == account_id, KnowledgeEntryRow.entry_id == entry_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(
            f"account {account_id} has no knowledge entry {entry_id!r}", "entry_not_found", {"id": entry_id}
        )


async def import_csv(
    session: AsyncSession,
    account_id: int,
    data: bytes,
    *,
    replace: bool,
    now: datetime,
    actor: str | None = None,
) -> KbImport:
    """`kefu kb import` (CSV or XLSX): good rows are stored, bad rows reported by line. With
    `replace`, entries not in the file are removed — unless a row is bad (it may be an entry's
    edit), then none are."""
    parsed = parse_kb_file(data)
    remove = replace and not parsed.errors
    entries = await _keep_left_out_columns(session, account_id, parsed.entries, parsed.columns)
    changes = await put_entries(session, account_id, entries, replace=remove, now=now, actor=actor)
    return KbImport(changes=changes, errors=parsed.errors, removal_skipped=replace and not remove)


async def _keep_left_out_columns(
    session: AsyncSession, account_id: int, entries: list[KnowledgeEntry], columns: Sequence[str]
) -> list[KnowledgeEntry]:
    """A file without alt_questions, tags or enabled (e.g. id,question,answer to edit answers)
    leaves those of the entries it updates as they are, instead of emptying or enabling them."""
    left_out = [name for name in OPTIONAL_COLUMNS if name not in columns]
    if not left_out or not entries:
        return entries
    stored = {e.id: e for e in await list_entries(session, account_id)}
    return [
        e.model_copy(update={name: getattr(stored[e.id], name) for name in left_out}) if e.id in stored else e
        for e in entries
    ]


def entries_csv(entries: Sequence[KnowledgeEntry]) -> str:
    """The entries as the CSV `kefu kb import` reads (lists joined with "|"), each cell safe to
    open in a spreadsheet (kefu.spreadsheet: the importer takes the guard off again)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for e in entries:
        writer.writerow([csv_cell(cell) for cell in entry_cells(e)])
    return out.getvalue()


async def import_demo_knowledge(rt: Runtime, open_kfid: str) -> int:
    """The demo account's knowledge base (kefu.ai's demo CSV), when it has none yet."""
    async with rt.db.write() as session:
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == open_kfid).limit(1))
        if account is None or (await _fingerprint(session, account.id))[0]:
            return 0
        changes = await put_entries(
            session, account.id, load_demo_entries(), replace=False, now=rt.clock.now()
        )
    return len(changes.added)
