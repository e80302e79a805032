"""Knowledge entries per account (the built-in AI's knowledge base) and the provider built on them.

Rows are `KnowledgeEntryRow`s keyed by (account, entry id). Every write stamps the rows it
touches with an `updated_at` later than any the account had, so (count, max(updated_at))
changes with every write — the fingerprint `provider_for_account` compares on each call to
pick up a change made by another process, without reading the whole knowledge base.

An account without entries answers "not sure" to everything; the demo imports its own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.accounts.models import GlobalSetting, KfAccount, KnowledgeEntryRow
from kefu.accounts.settings import AI_KEY, ai_version, load_ai_settings
from kefu.ai.builtin import KnowledgeBaseProvider
from kefu.ai.factory import answering_provider, build_index, knowledge_provider
from kefu.ai.kb_csv import EXPORT_COLUMNS, OPTIONAL_COLUMNS, RowError, entry_cells, load_demo_entries
from kefu.ai.kb_xlsx import parse_kb_file
from kefu.ai.knowledge import KnowledgeEntry, Match
from kefu.ai.provider import AIProvider, Answer
from kefu.audit.log import record
from kefu.db import Database, get_row, table_of
from kefu.errors import NotFound
from kefu.runtime import Runtime

CACHED_ACCOUNTS = 64  # providers kept per database (an index is rebuilt in milliseconds to a second)
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
    """The entries as the CSV `kefu kb import` reads (lists joined with "|")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for e in entries:
        writer.writerow(entry_cells(e))
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


# --- the provider ---------------------------------------------------------------------------

KnowledgeKey = tuple[int, datetime | None, int]
_Cached = tuple[KnowledgeKey, KnowledgeBaseProvider, AIProvider]
_providers: weakref.WeakKeyDictionary[Database, OrderedDict[int, _Cached]] = weakref.WeakKeyDictionary()
_building: weakref.WeakKeyDictionary[Database, dict[int, asyncio.Future[KnowledgeBaseProvider]]] = (
    weakref.WeakKeyDictionary()
)


async def ai_for_account(rt: Runtime, account_id: int, key: KnowledgeKey | None = None) -> AIProvider:
    """The AI that answers an account's customers: the LLM provider when `ai.provider` is
    openai (with the knowledge base as its retrieval and fallback), else the knowledge base.
    `key`: `knowledge_key` as the caller's own read unit found it (else it is read here)."""
    await provider_for_account(rt, account_id, key)
    return _providers[rt.db][account_id][2]


def answering_at_once(db: Database, account_id: int, key: KnowledgeKey) -> KnowledgeBaseProvider | None:
    """The account's built-in AI when it can answer inside a unit of work: built in this process
    for exactly `key`, with no LLM in front of it. None: ask through `ai_for_account`. Its answer
    is CPU work either way (about a millisecond lexical; hybrid's query embedding several, which
    onnxruntime does without the GIL): on the units' thread rather than the event loop, where
    `answer` ran it. Only reads the cache (the units' thread calls it)."""
    accounts = _providers.get(db)
    cached = accounts.get(account_id) if accounts is not None else None
    if cached is None or cached[0] != key or cached[2] is not cached[1]:
        return None
    return cached[1]


@dataclass
class KbAnswer:
    """What the built-in AI would answer to one message, and the entries closest to it."""

    answer: Answer
    matches: list[Match]
    retrieval: str


async def ask_knowledge(rt: Runtime, account_id: int, question: str, *, limit: int = 3) -> KbAnswer:
    """`kefu kb ask` and the console's 试一试: the account's current index, so a change just
    saved is already answered (the fingerprint moved)."""
    provider = await provider_for_account(rt, account_id)
    return KbAnswer(
        answer=provider.answer_now(question),
        matches=provider.index.search(question, limit=limit),
        retrieval=provider.index.retrieval,
    )


async def provider_for_account(
    rt: Runtime, account_id: int, key: KnowledgeKey | None = None
) -> KnowledgeBaseProvider:
    """The built-in AI of an account: its knowledge entries, the `ai:` section's not-sure text,
    threshold and wordings. Cached per (database, account) and rebuilt when the entries'
    fingerprint (count, newest stamp) or the `ai:` version changed — in any process."""
    cache = _providers.setdefault(rt.db, OrderedDict())
    if key is None:
        key = await rt.db.run_read(knowledge_key, account_id)
    cached = cache.get(account_id)
    if cached is not None and cached[0] == key:
        cache.move_to_end(account_id)
        return cached[1]
    # One build per account at a time, shielded: a caller that gives up (ask_ai's deadline)
    # leaves it running for the next, instead of every message under load starting a build
    # that is cancelled in turn and never finishes.
    building = _building.setdefault(rt.db, {})
    for _ in range(2):  # a build already running may have read the entries before this change
        task = building.get(account_id)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(_rebuild(rt, account_id))
            building[account_id] = task
            task.add_done_callback(lambda done: _forget_build(building, account_id, done))
        provider = await asyncio.shield(task)
        if (cached := cache.get(account_id)) is None or cached[0] == key:
            break
    return provider


# Built once, on the tables (Core: `table_of`): asked on every message, and building it cost
# about as much as running it.
_ENTRIES, _GLOBAL = table_of(KnowledgeEntryRow).c, table_of(GlobalSetting).c
_KNOWLEDGE_KEY = select(
    func.count(_ENTRIES.id),
    func.max(_ENTRIES.updated_at),
    select(_GLOBAL.version).where(_GLOBAL.key == AI_KEY).scalar_subquery(),
).where(_ENTRIES.account_id == bindparam("account_id"))


def knowledge_key(session: Session, account_id: int) -> KnowledgeKey:
    """The entries' fingerprint and the `ai:` version in one statement (asked on every message,
    by the process job in its own read unit)."""
    count, newest, ai = session.execute(_KNOWLEDGE_KEY, {"account_id": account_id}).one()
    return int(count), newest, int(ai or 0)


def _forget_build(
    building: dict[int, asyncio.Future[KnowledgeBaseProvider]], account_id: int, done: object
) -> None:
    if building.get(account_id) is done:
        del building[account_id]


async def _rebuild(rt: Runtime, account_id: int) -> KnowledgeBaseProvider:
    cache = _providers.setdefault(rt.db, OrderedDict())
    async with rt.db.read() as session:
        rows = (
            await session.scalars(
                select(KnowledgeEntryRow)
                .where(KnowledgeEntryRow.account_id == account_id)
                .order_by(KnowledgeEntryRow.id)
            )
        ).all()
        # The key of what was read, so a change made meanwhile is seen by the next call.
        key = (len(rows), max((r.updated_at for r in rows), default=None), await ai_version(session))
        entries = [to_entry(r) for r in rows]
        ai = await load_ai_settings(session, rt.secrets)
    # Segmenting and indexing is CPU work: keep the event loop free meanwhile.
    # Embedding new entries (hybrid retrieval) takes longer: still off the loop.
    index = await asyncio.to_thread(build_index, entries, ai)
    provider = knowledge_provider(index, ai)
    cache[account_id] = (key, provider, answering_provider(provider, ai, rt.http))
    cache.move_to_end(account_id)
    while len(cache) > CACHED_ACCOUNTS:
        cache.popitem(last=False)
    return provider
