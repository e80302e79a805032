"""Hand-overs against what servicers and customers meet in real desks, end to end through the
simulator: a take in the WeCom app racing Kefu's own take from the pool or its queue timeout, a
customer told to wait for a servicer who is off duty, and the queue's order when reception opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kefu.accounts.service import get_connection, wecom_client
from kefu.accounts.servicers import refresh_servicers
from kefu.reception.dispatch import sweep
from tests.factories import api_client
from tests.reception.conftest import MESSAGES_ON, POOL_NOTICE, World, WorldFactory, texts_of
from tests.reception.routing_world import (
    HUMAN_ONLY,
    ONE_EACH,
    another_customer,
    bind_to_contact,
    reception_status,
)

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def test_a_customer_taken_in_the_wecom_app_stays_with_that_servicer_when_kefus_take_comes_late(
    make_world: WorldFactory,
) -> None:
    """alice takes the customer in the console; before Kefu's trans goes out, bob takes them in
    the WeCom app. WeCom allows 3 → 3, so the trans moved the customer away from bob, in the
    middle of his conversation. Now the deliverer looks first and WeCom's state wins."""
    world = await make_world(settings={**HUMAN_ONLY, **ONE_EACH}, servicers=["alice", "bob"])
    for name in ("甲", "乙"):
        another_customer(world, name).says("人工")
        await world.settle()
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2
    conversation = await world.conversation()
    async with api_client(world.rt) as api:
        took = await api.post(
            f"/api/v1/conversations/{conversation.id}/take", json={"servicer_userid": "alice"}
        )
        assert took.status_code == 202, took.text
    world.servicer("take", "bob")  # in the WeCom app, before Kefu's trans goes out
    await world.settle()

    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "bob")
    assert [h["by"] for h in session["history"] if h["to_state"] == 3] == ["servicer"]
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.servicer_userid) == (3, "bob")
    transfers = [a for a in await world.actions() if a.kind == "transfer"]
    take = transfers[-1]
    assert take.payload["action"]["servicer_userid"] == "alice"
    assert take.status == "dropped" and "session changed before the transfer" in (take.error or "")


async def test_a_queue_timeout_does_not_end_the_session_of_a_servicer_who_just_took_the_customer(
    make_world: WorldFactory,
) -> None:
    """The queue timeout falls due a moment after bob took the waiting customer in the WeCom app,
    before Kefu pulled that take: the trans 3 → 4 ended bob's session mid-conversation and the
    customer read 排队超时. Now WeCom's state wins and the customer stays with bob."""
    limits = {
        "queue": {
            **POOL_NOTICE,
            "timeout_minutes": 30,
            "timeout_message": {"mode": "fixed", "text": "排队超时，欢迎留言"},
        },
        "messages": MESSAGES_ON,
    }
    world = await make_world(settings={**HUMAN_ONLY, **limits}, servicers=["bob"])
    reception_status(world, "bob", 2)
    await world.settle()
    world.says("人工")
    await world.settle()
    assert world.session()["state"] == 2
    world.rt.clock.advance(timedelta(minutes=31))
    reception_status(world, "bob", 1)
    world.servicer("take", "bob")  # in the WeCom app; Kefu has not pulled it yet
    await world.run_due()  # the queue timeout's timer
    await world.settle()

    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "bob")
    assert "排队超时，欢迎留言" not in [texts_of(m) for m in world.inbox()]
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.servicer_userid) == (3, "bob")

    world.servicer("end", "bob")  # later bob ends it: the ending and survey, not the timeout text
    await world.settle()
    assert texts_of(world.inbox()[-1]).startswith("本次服务已结束")


async def _bob_off_duty_asked_for(make_world: WorldFactory, **settings: object) -> World:
    """A customer whose exclusive servicer bob is off duty asks for a human; the rule says wait
    for bob, then idle (alice)."""
    rules = [{"rule": "exclusive", "when_unavailable": "wait"}, {"rule": "idle"}]
    world = await make_world(
        settings={**HUMAN_ONLY, **settings, "routing": {"rules": rules}}, servicers=["alice", "bob"]
    )
    async with api_client(world.rt) as api:
        await bind_to_contact(api, world, {"name": "王经理", "exclusive_userid": "bob"})
    reception_status(world, "bob", 2)
    await world.settle()
    world.says("人工")
    await world.settle()
    return world


async def test_a_customer_told_to_wait_for_an_off_duty_exclusive_servicer_waits_for_them(
    make_world: WorldFactory,
) -> None:
    """The rule says `wait` for bob, who is off duty: the customer heard the pool notice and was
    then given alice at once by the round their entering the pool asked for — `wait` did worse
    than `next` (which gives alice without the detour). Now they wait until bob comes on duty."""
    world = await _bob_off_duty_asked_for(make_world, queue=POOL_NOTICE)
    assert await sweep(world.rt) == 1  # the sweep's round too leaves them waiting for bob
    await world.run_due()
    assert world.session()["state"] == 2
    assert (await world.conversation()).reserved_for == "bob"
    assert [texts_of(m) for m in world.inbox()] == ["正在为您排队，您前面还有 0 位"]

    reception_status(world, "bob", 1)
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "bob")


async def test_a_customer_waiting_for_a_servicer_removed_in_the_wecom_admin_falls_back(
    make_world: WorldFactory,
) -> None:
    """A servicer WeCom no longer lists for the account is no servicer of it: nobody waits for
    them (Kefu read them as merely off duty, so the customer would have waited for good)."""
    world = await _bob_off_duty_asked_for(make_world)
    assert (await world.conversation()).reserved_for == "bob"

    async with world.rt.db.read() as session:
        connection = await get_connection(session, world.account.connection_id)
    await wecom_client(world.rt, connection).servicer_del(world.open_kfid, ["bob"])  # the WeCom admin
    await refresh_servicers(world.rt, world.account.id)
    assert await sweep(world.rt) == 1
    await world.run_due()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


OFFICE = {"hours": {"weekly": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}}}


async def test_at_opening_the_customer_who_waited_in_the_pool_overnight_is_served_first(
    make_world: WorldFactory,
) -> None:
    """乙 waits in the pool since 17:10; alice's session ends after closing time; 丙 asks for a
    human at 20:00 and waits for the opening. At 09:00 丙's opening timer took alice before any
    dispatch round (the sweep comes within a poll interval): the newcomer jumped the queue
    (Chatwoot #10376). Now a new request joins the line behind those waiting for anyone."""
    wednesday_5pm = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    world = await make_world(
        at=wednesday_5pm,
        settings={
            "reception": {"mode": "ai_first"},
            **OFFICE,
            "queue": {"default_max_sessions": 1, **POOL_NOTICE},
        },
        servicers=["alice"],
        kb=True,
    )
    served, waiting, evening = (another_customer(world, name) for name in ("甲", "乙", "丙"))
    served.says("转人工")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=10))
    waiting.says("转人工")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=80))  # 18:30, closed
    served.servicer("end", "alice")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=90))  # 20:00
    evening.says("转人工")
    await world.settle()
    assert (waiting.session()["state"], evening.session()["state"]) == (2, 1)

    world.rt.clock.set(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))  # Thursday 09:00
    await world.run_due()  # 丙's opening timer; no sweep has run yet
    assert (waiting.session()["state"], waiting.session()["servicer_userid"]) == (3, "alice")
    assert evening.session()["state"] == 2
    assert texts_of(evening.inbox()[-1]) == "正在为您排队，您前面还有 1 位"
    async with api_client(world.rt) as api:
        conversation = await evening.conversation()
        decisions = (await api.get(f"/api/v1/conversations/{conversation.id}/routing")).json()
    assert [(d["rule"], d["explanation"]) for d in decisions] == [
        ("line", "排队顺序：排队池中已有 1 位在等 → 进入排队池")
    ]


async def test_a_hand_over_does_not_take_the_customer_from_whom_the_app_gave_them_meanwhile(
    make_world: WorldFactory,
) -> None:
    """The console hands alice's customer to carol; meanwhile alice transfers them to bob in the
    WeCom app. Kefu's trans then moved them from bob to carol (WeCom allows 3 → 3), and the app's
    event, pulled after, left the mirror on bob while WeCom showed carol."""
    world = await make_world(settings=HUMAN_ONLY, servicers=["alice", "bob", "carol"])
    world.says("人工")
    await world.settle()
    assert world.session()["servicer_userid"] == "alice"
    conversation = await world.conversation()
    async with api_client(world.rt) as api:
        moved = await api.post(
            f"/api/v1/conversations/{conversation.id}/hand-over", json={"servicer_userid": "carol"}
        )
        assert moved.status_code == 202, moved.text
    world.servicer("transfer", "alice", to_servicer_userid="bob")  # before Kefu's trans goes out
    await world.settle()

    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "bob")
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.servicer_userid) == (3, "bob")
    handover = [a for a in await world.actions() if a.kind == "transfer"][-1]
    assert handover.payload["action"]["servicer_userid"] == "carol" and handover.status == "dropped"


async def test_an_end_by_hand_does_not_end_the_customers_next_session(make_world: WorldFactory) -> None:
    """The console ends alice's session; meanwhile alice ends it in the app and the customer asks
    a new question. Kefu's trans → 4 ended the customer's new session: their question went
    unanswered (the AI's send refused) and they read 本次服务已结束 instead."""
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice"], kb=True)
    world.says("转人工")
    await world.settle()
    conversation = await world.conversation()
    async with api_client(world.rt) as api:
        ended = await api.post(f"/api/v1/conversations/{conversation.id}/end", json={})
        assert ended.status_code == 202, ended.text
    world.servicer("end", "alice")  # in the app, before Kefu's trans goes out …
    world.says("怎么退货")  # … and the customer starts a new session
    await world.settle()

    assert world.session()["state"] == 1
    assert [texts_of(m) for m in world.inbox()] == [
        "收到商品 7 天内可在订单页申请退货，运费由我们承担。 | 转人工 | "
    ]


@pytest.mark.parametrize("servicers", [["alice"], []], ids=["servicer_off_duty", "pool_only"])
async def test_two_customers_asking_at_once_do_not_overfill_the_queue(
    make_world: WorldFactory, servicers: list[str]
) -> None:
    """The pool's cap is 1 and both customers ask in the same moment: each decision counted only
    customers already in the pool, not one whose trans → 2 was still on its way, so both got in.
    Then on PostgreSQL the two decisions counted side by side: the servicer rows are locked first
    (so they see each other), and with no servicer in Kefu's list (an account whose servicers take
    customers from the pool in the WeCom app) the account row is."""
    world = await make_world(
        settings={
            "reception": {"mode": "ai_first"},
            "queue": {"max_length": 1, "over_length_message": {"mode": "fixed", "text": "排队人数已满"}},
        },
        servicers=servicers,
        kb=True,
    )
    for userid in servicers:
        reception_status(world, userid, 2)
    await world.settle()
    first, second = another_customer(world, "甲"), another_customer(world, "乙")
    first.says("转人工")
    second.says("转人工")
    await world.settle()
    # Either may come first (PostgreSQL decides them side by side): one waits, one hears so.
    queued, turned_away = sorted((first, second), key=lambda c: c.session()["state"], reverse=True)
    assert (queued.session()["state"], turned_away.session()["state"]) == (2, 1)
    assert [texts_of(m) for m in turned_away.inbox()] == ["排队人数已满"]


async def test_a_servicer_wecom_refuses_as_no_servicer_of_the_account_is_not_tried_again(
    make_world: WorldFactory,
) -> None:
    """bob was removed from the account in the WeCom admin. The first customer routed to him is
    refused (95014) and goes to alice; every later customer was first routed to bob too (the
    idlest, as he gets no sessions), refused, then routed again. Kefu now reads WeCom's list."""
    world = await make_world(settings=HUMAN_ONLY, servicers=["bob", "alice"])
    async with world.rt.db.read() as session:
        connection = await get_connection(session, world.account.connection_id)
    await wecom_client(world.rt, connection).servicer_del(world.open_kfid, ["bob"])  # the WeCom admin
    first, second = another_customer(world, "甲"), another_customer(world, "乙")
    first.says("人工")
    await world.settle()
    assert (first.session()["state"], first.session()["servicer_userid"]) == (3, "alice")
    second.says("人工")
    await world.settle()
    assert (second.session()["state"], second.session()["servicer_userid"]) == (3, "alice")
    transfers = [a for a in await second.actions() if a.kind == "transfer"]
    assert [(a.payload["action"]["servicer_userid"], a.status) for a in transfers] == [("alice", "done")]
