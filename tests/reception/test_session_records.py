"""Each session's record for reports, kept through the real reception (simulator, jobs): why it
went to a human, how long it waited and for the servicer's first word, how it ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kefu.reception.models import SessionRecord, SessionServicer
from tests.factories import api_client
from tests.reception.conftest import MESSAGES_ON, World, WorldFactory, texts_of
from tests.reception.routing_world import another_customer

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def records(world: World) -> list[SessionRecord]:
    async with world.rt.db.read() as session:
        query = select(SessionRecord).order_by(SessionRecord.conversation_id, SessionRecord.session_no)
        return list((await session.execute(query)).scalars())


async def test_a_keyword_transfer_a_reply_40_s_later_and_the_end(make_world: WorldFactory) -> None:
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice"], kb=True)
    started = world.rt.clock.now().replace(microsecond=0)  # when WeCom got it (whole seconds)
    world.says("我的洗衣机坏了，转人工")
    await world.settle()
    world.rt.clock.advance(timedelta(seconds=40))
    world.servicer("reply", "alice", msgtype="text", text={"content": "您好，我来帮您看看"})
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=5))
    world.servicer("end", "alice")
    await world.settle()

    [record] = await records(world)
    assert (record.session_no, record.kind, record.transfer_reason) == (1, "normal", "keyword")
    assert record.started_at == started and record.started_hour == int(started.timestamp()) // 3600
    assert (record.queued_at, record.wait_seconds, record.taken) == (None, None, False)  # straight to alice
    assert record.servicer_userid == "alice" and record.assigned_at is not None
    assert record.first_response_seconds == 40
    assert record.ended_at is not None and record.ended_servicer_userid == "alice"
    assert record.end_reason == "servicer_ended"


async def test_an_ai_only_session_has_no_transfer(make_world: WorldFactory) -> None:
    idle_ends = {"session": {"ai_idle_timeout_minutes": 5}}
    world = await make_world(settings=idle_ends, servicers=["alice"], kb=True)
    world.says("洗衣机怎么清洗")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=6))
    await world.run_due()
    await world.settle()
    [record] = await records(world)
    assert record.transfer_reason is None and record.assigned_at is None and record.queued_at is None
    assert record.ended_at is not None


async def test_a_wait_in_the_pool_until_a_servicer_is_back(make_world: WorldFactory) -> None:
    world = await make_world(settings={"reception": {"mode": "human_only"}}, servicers=["alice"])
    reception = f"corps/{world.corp['corpid']}/members/alice/reception"
    world.sim.control("POST", reception, {"status": 2, "stop_type": 0})
    await world.settle()
    world.says("人工客服在吗")
    await world.settle()
    world.rt.clock.advance(timedelta(seconds=90))
    world.sim.control("POST", reception, {"status": 1, "stop_type": 0})
    await world.settle()
    await world.run_due()
    await world.settle()

    [record] = await records(world)
    assert world.session()["state"] == 3
    assert record.transfer_reason == "human_only" and record.queued_at is not None
    assert (record.wait_seconds, record.taken, record.servicer_userid) == (90, True, "alice")


async def test_messages_pulled_late_count_at_wecom_s_times(make_world: WorldFactory) -> None:
    """Kefu pulled the customer's message 5 s late (a slow pull, a restart), and a servicer's take
    in the WeCom app and first reply together 30 s after the take: the session began when the
    customer wrote, was taken at the take and answered 20 s later — not when Kefu read them."""
    world = await make_world(settings={"reception": {"mode": "human_only"}}, servicers=["alice"])
    reception = f"corps/{world.corp['corpid']}/members/alice/reception"
    world.sim.control("POST", reception, {"status": 2, "stop_type": 0})
    await world.settle()
    wrote = world.rt.clock.now().replace(microsecond=0)
    world.says("人工客服在吗")
    world.rt.clock.advance(timedelta(seconds=5))
    await world.settle()  # into the pool, 5 s after the customer wrote
    world.rt.clock.advance(timedelta(seconds=60))
    world.servicer("take", "alice")
    world.rt.clock.advance(timedelta(seconds=20))
    world.servicer("reply", "alice", msgtype="text", text={"content": "您好"})
    world.rt.clock.advance(timedelta(seconds=10))
    await world.settle()

    [record] = await records(world)
    assert record.started_at == wrote and record.started_hour == int(wrote.timestamp()) // 3600
    assert (record.wait_seconds, record.taken, record.servicer_userid) == (60, True, "alice")
    assert record.first_response_seconds == 20


async def test_a_customer_who_rates_then_writes_on_has_a_real_session(make_world: WorldFactory) -> None:
    """The rating click opens a WeCom session that reports leave out; when the customer then asks
    something in it, it is a real session after all and is counted (the mirror already said so,
    the record did not)."""
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice"], kb=True)
    world.says("转人工")
    await world.settle()
    world.servicer("end", "alice")
    await world.settle()
    [menu] = [m for m in world.inbox() if m.get("code_kind") == "ending"]
    world.clicks(menu["msgid"], menu["body"]["list"][0]["click"]["id"])
    await world.settle()
    assert [r.kind for r in await records(world)] == ["normal", "rating_only"]
    world.says("怎么退货")
    await world.settle()
    assert [(r.session_no, r.kind) for r in await records(world)] == [(1, "normal"), (2, "normal")]


async def test_a_customer_turned_away_by_a_full_queue_asked_for_a_human(make_world: WorldFactory) -> None:
    """The queue is at its cap: the second customer stays with the AI. Reports must not count
    them as resolved by the AI alone: the record keeps that they asked (queue_full)."""
    world = await make_world(settings={"queue": {"max_length": 1}}, servicers=["alice"], kb=True)
    world.sim.control(
        "POST", f"corps/{world.corp['corpid']}/members/alice/reception", {"status": 2, "stop_type": 0}
    )
    await world.settle()
    first, second = another_customer(world, "甲"), another_customer(world, "乙")
    first.says("转人工")
    await world.settle()
    second.says("转人工")
    await world.settle()
    assert (first.session()["state"], second.session()["state"]) == (2, 0)  # no over-length message set
    waiting, turned_away = await records(world)
    assert (waiting.transfer_reason, waiting.queued_at is not None) == ("keyword", True)
    assert (turned_away.transfer_reason, turned_away.queued_at, turned_away.assigned_at) == (
        "queue_full",
        None,
        None,
    )


async def stints(world: World) -> dict[str, tuple[bool, bool, bool]]:
    """Each servicer who held the customer's session: (got it from a colleague, passed it on,
    wrote in it)."""
    async with world.rt.db.read() as session:
        rows = (await session.scalars(select(SessionServicer).order_by(SessionServicer.id))).all()
    return {r.servicer_userid: (r.transferred_in, r.transferred_out, r.replied_at is not None) for r in rows}


async def test_how_each_session_ended_and_whether_its_survey_went_out(make_world: WorldFactory) -> None:
    """Kefu ends a session by a trans → 4 it asked for in an earlier decision; the record keeps
    why it asked, so reports tell an AI idle end from a queue timeout and an end by hand."""
    settings = {
        "messages": MESSAGES_ON,
        "session": {"ai_idle_timeout_minutes": 5},
        "queue": {"timeout_minutes": 10},
    }
    world = await make_world(settings=settings, servicers=["alice"], kb=True)
    idle, waiting, by_hand, by_servicer = (another_customer(world, name) for name in "甲乙丙丁")
    idle.says("洗衣机怎么清洗")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=6))
    await world.run_due()  # the AI idle end
    await world.settle()
    by_servicer.says("转人工")  # alice, who then ends it in the WeCom app
    await world.settle()
    by_servicer.servicer("end", "alice")
    await world.settle()
    world.sim.control(
        "POST", f"corps/{world.corp['corpid']}/members/alice/reception", {"status": 2, "stop_type": 0}
    )
    await world.settle()
    waiting.says("转人工")  # nobody on duty: the pool, then the queue timeout
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=11))
    await world.run_due()
    await world.settle()
    world.sim.control(
        "POST", f"corps/{world.corp['corpid']}/members/alice/reception", {"status": 1, "stop_type": 0}
    )
    await world.settle()
    by_hand.says("转人工")
    await world.settle()
    async with api_client(world.rt) as api:
        conversation = await by_hand.conversation()
        assert (await api.post(f"/api/v1/conversations/{conversation.id}/end")).status_code == 202
    await world.settle()

    by_conversation = {r.conversation_id: r for r in await records(world)}
    found = {}
    for name, customer in (
        ("idle", idle),
        ("waiting", waiting),
        ("by_hand", by_hand),
        ("servicer", by_servicer),
    ):
        record = by_conversation[(await customer.conversation()).id]
        found[name] = (record.end_reason, record.end_requested, record.survey_sent)
    # The survey rates a servicer's service: it goes with the endings of sessions one held, not
    # with an AI session's ending nor with a queue timeout's own message.
    assert found == {
        "idle": ("kefu_ended", "idle_timeout", False),
        "waiting": ("kefu_ended", "queue_timeout", False),
        "by_hand": ("kefu_ended", "ended_by_api", True),
        "servicer": ("servicer_ended", None, True),
    }


async def test_an_ending_without_a_survey_sends_none(make_world: WorldFactory) -> None:
    world = await make_world(
        settings={"messages": {"ending": MESSAGES_ON["ending"]}}, servicers=["alice"], kb=True
    )
    world.says("转人工")
    await world.settle()
    world.servicer("end", "alice")
    await world.settle()
    assert texts_of(world.inbox()[-1]).startswith("本次服务已结束")  # the ending alone went out
    [record] = await records(world)
    assert record.survey_sent is False


async def test_servicers_passing_a_session_on_and_who_wrote_in_it(make_world: WorldFactory) -> None:
    """alice answers, then transfers to bob in the WeCom app; bob says nothing and a supervisor
    hands the customer to carol in Kefu; carol answers and ends it. Two moves between servicers,
    and bob held it without a word."""
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice", "bob", "carol"])
    world.says("转人工")
    await world.settle()
    assert world.session()["servicer_userid"] == "alice"
    world.servicer("reply", "alice", msgtype="text", text={"content": "您好"})
    await world.settle()
    world.servicer("transfer", "alice", to_servicer_userid="bob")
    await world.settle()
    async with api_client(world.rt) as api:
        conversation = await world.conversation()
        handed = await api.post(
            f"/api/v1/conversations/{conversation.id}/hand-over", json={"servicer_userid": "carol"}
        )
        assert handed.status_code == 202, handed.text
    await world.settle()
    assert world.session()["servicer_userid"] == "carol"
    world.servicer("reply", "carol", msgtype="text", text={"content": "我来处理"})
    await world.settle()
    world.servicer("end", "carol")
    await world.settle()

    [record] = await records(world)
    assert (record.servicer_userid, record.ended_servicer_userid, record.servicer_transfers) == (
        "alice",
        "carol",
        2,
    )
    assert await stints(world) == {
        "alice": (False, True, True),
        "bob": (True, True, False),
        "carol": (True, False, True),
    }
