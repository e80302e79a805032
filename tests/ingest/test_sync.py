"""Pulling an account's stream from the simulator: every message stored exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kefu.accounts.models import KfAccount
from kefu.accounts.service import wecom_client
from kefu.accounts.sync import enqueue_sync
from kefu.ingest.models import Message
from kefu.ingest.tasks import CursorMoved, _store
from kefu.jobs.models import Job
from kefu.jobs.worker import Worker
from kefu.reception.models import Conversation
from kefu.runtime import Runtime
from tests.db_faults import refusing
from tests.factories import make_account, make_connection
from tests.ingest.conftest import Wired, keys_of, sim_corp

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def sync_now(rt: Runtime, account_id: int) -> int:
    async with rt.db.write() as session:
        await session.run_sync(enqueue_sync, account_id, now=rt.clock.now())
    return await Worker(rt).run_until_idle()


async def messages(rt: Runtime) -> list[Message]:
    """Pulled items only: the reception engine stores Kefu's own replies as origin-0 messages too."""
    async with rt.db.read() as session:
        pulled = select(Message).where(Message.origin != 0).order_by(Message.id)
        return list((await session.scalars(pulled)).all())


async def account_row(rt: Runtime, account_id: int) -> KfAccount:
    async with rt.db.read() as session:
        account = await session.get(KfAccount, account_id)
    assert account is not None
    return account


async def count_jobs(rt: Runtime, task: str) -> int:
    async with rt.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Job).where(Job.task == task)) or 0)


async def test_pages_store_each_message_once_even_when_pulled_again(wired: Wired) -> None:
    rt = wired.rt
    rt.settings = rt.settings.model_copy(update={"sync_page_limit": 2})
    sent = [wired.customer_says(f"第{i}条消息") for i in range(5)]
    await sync_now(rt, wired.account.id)
    stored = await messages(rt)
    assert [m.msgid for m in stored] == [item["msgid"] for item in sent]
    assert all(m.origin == 3 and m.external_userid == wired.customer and not m.bootstrap for m in stored)
    assert await count_jobs(rt, "ingest.process") == 5

    # Pull everything again from an old cursor: WeCom replays the same msgids.
    async with rt.db.write() as session:
        account = await session.get(KfAccount, wired.account.id)
        assert account is not None
        account.sync_cursor = None
    await sync_now(rt, wired.account.id)
    assert len(await messages(rt)) == 5
    assert await count_jobs(rt, "ingest.process") == 5  # nothing processed twice


async def test_an_empty_page_with_has_more_keeps_pulling(wired: Wired) -> None:
    wired.customer_says("在吗")
    wired.sim.control("POST", "faults", {"endpoint": "kf/sync_msg", "empty_page": True, "count": 1})
    await sync_now(wired.rt, wired.account.id)
    assert [m.payload["text"]["content"] for m in await messages(wired.rt)] == ["在吗"]


async def test_a_crash_between_fetch_and_commit_refetches_and_stores_once(wired: Wired) -> None:
    rt = wired.rt
    for text_ in ("一", "二", "三"):
        wired.customer_says(text_)
    async with refusing(rt, "messages"):
        await sync_now(rt, wired.account.id)
        assert await messages(rt) == []
        assert (await account_row(rt, wired.account.id)).sync_cursor is None  # the cursor did not move alone
        async with rt.db.read() as session:
            job = await session.scalar(select(Job).where(Job.task == "ingest.sync"))
        assert job is not None and job.status == "todo" and "injected failure" in (job.last_error or "")
    rt.clock.advance(3600)  # past the retry's backoff
    await Worker(rt).run_until_idle()
    assert [m.payload["text"]["content"] for m in await messages(rt)] == ["一", "二", "三"]
    assert (await account_row(rt, wired.account.id)).sync_cursor is not None


async def test_cursor_moves_only_with_its_messages(wired: Wired) -> None:
    rt = wired.rt
    wired.customer_says("你好")
    await sync_now(rt, wired.account.id)
    first_cursor = (await account_row(rt, wired.account.id)).sync_cursor
    assert first_cursor
    wired.customer_says("还在吗")
    async with refusing(rt, "messages"):
        await sync_now(rt, wired.account.id)
        assert (await account_row(rt, wired.account.id)).sync_cursor == first_cursor
    rt.clock.advance(3600)
    await Worker(rt).run_until_idle()
    assert (await account_row(rt, wired.account.id)).sync_cursor != first_cursor
    assert len(await messages(rt)) == 2


@pytest.mark.parametrize("policy", ["skip", "backfill"])
async def test_bootstrap_policy(sim_rt: Runtime, simulator, policy: str) -> None:
    rt = sim_rt
    corp, open_kfid, customer = sim_corp(simulator)
    say = {"open_kfid": open_kfid, "msgtype": "text"}
    simulator.control(
        "POST", f"customers/{customer}/messages", {**say, "text": {"content": "连接之前的旧消息"}}
    )
    rt.clock.advance(120)
    connection, _ = await make_connection(rt, keys=keys_of(corp), bootstrap=policy)
    account = await make_account(rt, connection, open_kfid)
    simulator.control(
        "POST", f"customers/{customer}/messages", {**say, "text": {"content": "连接之后的第一条"}}
    )
    await sync_now(rt, account.id)
    stored = {m.payload["text"]["content"]: m for m in await messages(rt)}
    assert stored["连接之前的旧消息"].bootstrap is (policy == "skip")
    assert stored["连接之后的第一条"].bootstrap is False  # never ignore the first message after setup
    assert all(m.processed_at is not None for m in stored.values())
    async with rt.db.read() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None and conversation.external_userid == customer
    assert conversation.last_customer_message_at == stored["连接之后的第一条"].send_time


async def test_an_invalid_sync_token_is_dropped_and_the_pull_goes_on(wired: Wired) -> None:
    rt = wired.rt
    wired.customer_says("你好")
    async with rt.db.write() as session:
        account = await session.get(KfAccount, wired.account.id)
        assert account is not None
        account.sync_token = "ENCforgedtoken"
        account.sync_token_expires_at = rt.clock.now().replace(year=2030)
    await sync_now(rt, wired.account.id)
    assert len(await messages(rt)) == 1
    assert (await account_row(rt, wired.account.id)).sync_token is None


async def test_events_and_servicer_messages_keep_their_origin(wired: Wired) -> None:
    rt, sim = wired.rt, wired.sim
    sim.control("POST", f"customers/{wired.customer}/enter", {"open_kfid": wired.open_kfid, "scene": "web"})
    wired.customer_says("转人工")
    userid = "zhangsan"
    sim.control("POST", f"accounts/{wired.open_kfid}/servicers", {"userids": [userid]})
    client = wecom_client(rt, wired.connection)
    await client.service_state_trans(
        open_kfid=wired.open_kfid, external_userid=wired.customer, service_state=2
    )
    session_path = f"accounts/{wired.open_kfid}/sessions/{wired.customer}"
    sim.control("POST", f"{session_path}/take", {"servicer_userid": userid})
    sim.control(
        "POST",
        f"{session_path}/reply",
        {"servicer_userid": userid, "msgtype": "text", "text": {"content": "您好，我是张三"}},
    )
    await sync_now(rt, wired.account.id)
    by_kind = {(m.origin, m.event_type or m.msgtype): m for m in await messages(rt)}
    enter = by_kind[(4, "enter_session")]
    assert enter.external_userid == wired.customer and enter.payload["event"]["scene"] == "web"
    assert by_kind[(3, "text")].payload["text"]["content"] == "转人工"
    reply = by_kind[(5, "text")]
    assert reply.servicer_userid == userid and reply.external_userid == wired.customer


async def test_an_empty_pull_marks_the_account_synced_at_most_every_30_seconds(wired: Wired) -> None:
    """Sync lag (/metrics, /readyz) runs from the last successful pull, found something or not."""
    rt, account_id = wired.rt, wired.account.id
    assert (await account_row(rt, account_id)).last_synced_at is None
    first = rt.clock.now()
    await sync_now(rt, account_id)  # nothing in the stream
    assert (await account_row(rt, account_id)).last_synced_at == first
    rt.clock.advance(20)
    await sync_now(rt, account_id)
    assert (await account_row(rt, account_id)).last_synced_at == first  # no write for this one
    rt.clock.advance(15)
    await sync_now(rt, account_id)
    assert (await account_row(rt, account_id)).last_synced_at == rt.clock.now()


async def test_a_page_pulled_from_a_cursor_that_moved_meanwhile_is_discarded_whole(wired: Wired) -> None:
    """Two pulls of one account overlapping (a lease taken over, say): the one whose page starts
    from a cursor the other has moved stores nothing and moves nothing; the stream is read again
    from the stored cursor."""
    rt = wired.rt
    wired.customer_says("你好")
    await sync_now(rt, wired.account.id)
    moved_to = (await account_row(rt, wired.account.id)).sync_cursor
    wired.customer_says("还在吗")
    client = wecom_client(rt, wired.connection)
    stale = await client.sync_msg(open_kfid=wired.open_kfid, cursor=None, token=None, limit=100)
    assert len(stale.items) == 2
    with pytest.raises(CursorMoved):
        await rt.db.run_write(_store, wired.account.id, None, stale, False, rt.clock.now())
    assert (await account_row(rt, wired.account.id)).sync_cursor == moved_to
    assert len(await messages(rt)) == 1
    assert await count_jobs(rt, "ingest.process") == 1
    # The page from the stored cursor is the one that counts.
    await sync_now(rt, wired.account.id)
    assert [m.payload["text"]["content"] for m in await messages(rt)] == ["你好", "还在吗"]


async def test_a_page_of_an_account_deleted_meanwhile_is_dropped(wired: Wired) -> None:
    rt = wired.rt
    wired.customer_says("你好")
    page = await wecom_client(rt, wired.connection).sync_msg(
        open_kfid=wired.open_kfid, cursor=None, token=None, limit=100
    )
    async with rt.db.write() as session:
        await session.delete(await session.get(KfAccount, wired.account.id))
    assert await rt.db.run_write(_store, wired.account.id, None, page, False, rt.clock.now()) is None
    assert await messages(rt) == []
