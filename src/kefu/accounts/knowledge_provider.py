"""The AI an account's customers are answered by, built on its knowledge base: cached per
(database, account) and rebuilt when the entries' fingerprint (count, newest stamp) or the
`ai:` section's version changed, in any process (kefu.accounts.knowledge_base stamps every
write so the fingerprint moves)."""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kefu.accounts.knowledge_base import to_entry
from kefu.accounts.models import GlobalSetting, KnowledgeEntryRow
from kefu.accounts.settings import AI_KEY, ai_version, load_ai_settings
from kefu.ai.builtin import KnowledgeBaseProvider
from kefu.ai.factory import answering_provider, build_index, knowledge_provider
from kefu.ai.knowledge import Match
from kefu.ai.provider import AIProvider, Answer
from kefu.db import Database, table_of
from kefu.runtime import Runtime

CACHED_ACCOUNTS = 64  # providers kept per database (an index is rebuilt in milliseconds to a second)

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
