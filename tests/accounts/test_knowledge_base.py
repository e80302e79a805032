"""Knowledge entries in the database: import with bad rows and --replace, CRUD, the CSV round trip,
and provider_for_account answering from stored entries and seeing another process's changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.accounts.knowledge_base import (
    delete_entry,
    entries_csv,
    import_csv,
    import_demo_knowledge,
    list_entries,
    put_entries,
)
from kefu.accounts.knowledge_provider import provider_for_account
from kefu.accounts.models import KfAccount, KnowledgeEntryRow
from kefu.accounts.settings import save_ai_settings
from kefu.ai import KnowledgeEntry, load_demo_entries, parse_kb_csv
from kefu.ai.provider import AnswerContext
from kefu.ai.settings import AISettings
from kefu.db import Database
from kefu.errors import NotFound
from kefu.runtime import Runtime
from tests.factories import make_account, make_connection

pytestmark = pytest.mark.db

CSV = (
    "id,question,answer,alt_questions,tags\n"
    "warranty,保修期多久,整机保修一年。,保修多长时间|质保期是多久,保修\n"
    "bad-1,,没有问题的答案,,\n"
    "return,如何申请退货,七天内无理由退货。,怎么退货,退货\n"
    "bad-2,只有问题\n"
)


@pytest.fixture
async def account(rt: Runtime) -> KfAccount:
    connection, _ = await make_connection(rt)
    return await make_account(rt, connection)


async def _import(rt: Runtime, account_id: int, text: str, *, replace: bool = False):  # type: ignore[no-untyped-def]
    async with rt.db.write() as s:
        return await import_csv(s, account_id, text.encode(), replace=replace, now=rt.clock.now())


async def _ids(rt: Runtime, account_id: int) -> list[str]:
    async with rt.db.read() as s:
        return [e.id for e in await list_entries(s, account_id)]


async def test_import_keeps_good_rows_and_reports_bad_ones_by_line(rt: Runtime, account: KfAccount) -> None:
    result = await _import(rt, account.id, CSV)

    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "question is empty"),
        (5, "2 columns where the header has 5"),
    ]
    assert result.changes.added == ["warranty", "return"] and not result.removal_skipped
    async with rt.db.read() as s:
        [warranty, _] = await list_entries(s, account.id)
    assert warranty.alt_questions == ["保修多长时间", "质保期是多久"] and warranty.tags == ["保修"]

    again = await _import(rt, account.id, CSV)
    assert not again.changes.any and again.changes.unchanged == 2


async def test_replace_removes_what_the_file_lacks_but_never_on_bad_rows(
    rt: Runtime, account: KfAccount
) -> None:
    await _import(rt, account.id, CSV)
    only_return = "id,question,answer\nreturn,如何申请退货,七天内无理由退货，运费自理。\nnew,新问题,新答案\n"

    careful = await _import(rt, account.id, only_return + "broken,,x\n", replace=True)
    assert careful.removal_skipped and careful.changes.removed == []
    assert await _ids(rt, account.id) == ["warranty", "return", "new"]

    replaced = await _import(rt, account.id, only_return, replace=True)
    assert replaced.changes.removed == ["warranty"] and replaced.changes.changed == []
    assert await _ids(rt, account.id) == ["return", "new"]


async def test_crud_and_the_csv_round_trip(rt: Runtime, account: KfAccount) -> None:
    entries = [
        KnowledgeEntry(
            id="a",
            question="问题一",
            answer="第一行\n第二行，含逗号",
            alt_questions=["问法"],
            tags=["x", "y"],
        ),
        KnowledgeEntry(id="b", question='带"引号"的问题', answer="答"),
    ]
    async with rt.db.write() as s:
        changes = await put_entries(s, account.id, entries, replace=False, now=rt.clock.now())
        assert changes.added == ["a", "b"]
        await delete_entry(s, account.id, "b")
        with pytest.raises(NotFound, match="no knowledge entry 'b'"):
            await delete_entry(s, account.id, "b")
        with pytest.raises(NotFound, match="no account with id 999"):
            await put_entries(s, 999, entries, replace=False, now=rt.clock.now())
        await put_entries(s, account.id, entries[1:], replace=False, now=rt.clock.now())
        stored = await list_entries(s, account.id)
    assert stored == entries
    assert parse_kb_csv(entries_csv(stored)).entries == entries


async def test_provider_answers_from_stored_entries_and_sees_changes_from_another_process(
    rt: Runtime, account: KfAccount, database_url: str
) -> None:
    empty = await provider_for_account(rt, account.id)
    answer = await empty.answer("保修期多久", AnswerContext(account_id=account.id))
    assert answer.not_sure and answer.text == AISettings().not_sure_text  # no entries: no demo fallback

    await _import(rt, account.id, CSV)
    provider = await provider_for_account(rt, account.id)
    found = await provider.answer("质保期是多久", AnswerContext(account_id=account.id))
    assert not found.not_sure and found.entry is not None and found.entry.id == "warranty"
    assert await provider_for_account(rt, account.id) is provider  # nothing changed: the cached one

    # Another process (its own engine on the same database) edits an entry at the same instant.
    other = Database(database_url)
    try:
        async with other.write() as s:
            await put_entries(
                s,
                account.id,
                [KnowledgeEntry(id="warranty", question="保修期多久", answer="整机保修两年。")],
                replace=False,
                now=rt.clock.now(),
            )
    finally:
        await other.dispose()
    fresh = await provider_for_account(rt, account.id)
    assert fresh is not provider
    assert (await fresh.answer("保修期多久", AnswerContext())).text == "整机保修两年。"

    async with rt.db.write() as s:
        await save_ai_settings(
            s,
            AISettings(not_sure_text="这个我不清楚。", threshold=0.99, phrases={"welcome": ["欢迎！"]}),
            secrets=rt.secrets,
            changed_by="t",
            source="api",
            now=rt.clock.now(),
        )
    strict = await provider_for_account(rt, account.id)
    assert strict.threshold == 0.99 and await strict.phrase("welcome", {}) == "欢迎！"
    assert (await strict.answer("质保期多久啊", AnswerContext())).text == "这个我不清楚。"


async def test_the_demo_account_gets_the_demo_knowledge_base_once(rt: Runtime, account: KfAccount) -> None:
    assert await import_demo_knowledge(rt, account.open_kfid) == len(load_demo_entries())
    async with rt.db.write() as s:
        await delete_entry(s, account.id, load_demo_entries()[0].id)
    assert await import_demo_knowledge(rt, account.open_kfid) == 0  # an admin's edits stay
    async with rt.db.read() as s:
        count = len((await s.scalars(select(KnowledgeEntryRow))).all())
    assert count == len(load_demo_entries()) - 1


async def test_a_slow_index_build_is_shared_and_outlives_a_caller_that_gives_up(
    rt: Runtime, account: KfAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a build can outlast ask_ai's deadline: the build must go on for the next
    message rather than restart (and be cancelled again) with every message."""
    import asyncio
    import threading
    import time

    import kefu.accounts.knowledge_provider as knowledge_provider

    real_build = knowledge_provider.build_index
    builds: list[int] = []
    release = threading.Event()

    def slow_build(*args: object, **kwargs: object) -> object:  # the real build, made slow
        builds.append(1)
        release.wait(10)
        return real_build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(knowledge_provider, "build_index", slow_build)
    await _import(rt, account.id, CSV)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(provider_for_account(rt, account.id), 0.05)  # a caller gives up
    waiting = [asyncio.ensure_future(provider_for_account(rt, account.id)) for _ in range(3)]
    await asyncio.sleep(0.05)
    release.set()
    started = time.perf_counter()
    providers = await asyncio.gather(*waiting)
    assert len(builds) == 1  # one build, not one per caller
    assert all(p is providers[0] for p in providers)
    assert time.perf_counter() - started < 5
    assert await provider_for_account(rt, account.id) is providers[0]


async def test_an_import_without_the_optional_columns_keeps_what_they_hold(
    rt: Runtime, account: KfAccount
) -> None:
    """A quick answers-only file (id,question,answer) edits the answers; it wiped every edited
    entry's alternative questions and tags and enabled the disabled ones."""
    await _import(
        rt,
        account.id,
        "id,question,answer,alt_questions,tags,enabled\nwarranty,保修期多久,一年。,质保期是多久,保修,false\n",
    )

    result = await _import(
        rt, account.id, "id,question,answer\nwarranty,保修期多久,整机一年。\nnew,能开专票吗,能。\n"
    )

    assert result.changes.changed == ["warranty"] and result.changes.added == ["new"]
    async with rt.db.read() as s:
        entries = {e.id: e for e in await list_entries(s, account.id)}
    warranty = entries["warranty"]
    assert (warranty.answer, warranty.alt_questions, warranty.tags, warranty.enabled) == (
        "整机一年。",
        ["质保期是多久"],
        ["保修"],
        False,
    )
    assert (entries["new"].alt_questions, entries["new"].enabled) == ([], True)
