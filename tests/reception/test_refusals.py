"""What the customer meets when WeCom refuses a move Kefu asked for, end to end through the
simulator (defects of an end-to-end trial): a request for a human refused with 95016 is decided
again from WeCom's answer, and a queue timeout WeCom will not end (2 → 4) leaves the customer
where WeCom keeps them, in Kefu's pool too, told of the timeout when a code still allows it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.ai.phrasing import DEFAULT_PHRASES
from tests.factories import api_client
from tests.reception.conftest import MESSAGES_ON, POOL_NOTICE, World, WorldFactory, texts_of
from tests.reception.routing_world import QUEUE_LIMITS, full_pool, reception_status

pytestmark = [pytest.mark.db, pytest.mark.e2e]

AI_FIRST = {"reception": {"mode": "ai_first"}}
OVER_LENGTH = {"mode": "fixed", "text": "当前咨询人数较多，请稍后再试，或先留言。"}


def refuse_trans(world: World, times: int) -> None:
    """WeCom answers the next `times` trans calls with 95016 (state change not allowed)."""
    fault = {"endpoint": "kf/service_state/trans", "errcodes": [95016] * times, "count": times}
    world.sim.control("POST", "faults", fault)


async def time_out_refused(world: World) -> None:
    """The queue timeout falls due and WeCom refuses its 2 → 4 (UNCONFIRMED in its docs) this once."""
    refuse_trans(world, 1)
    world.rt.clock.advance(timedelta(minutes=31))
    await world.run_due()


async def end_by_hand(customer: World) -> None:
    """An admin ends the customer's session through Kefu (POST …/end); WeCom's answer comes back."""
    conversation = await customer.conversation()
    async with api_client(customer.rt) as api:
        ended = await api.post(f"/api/v1/conversations/{conversation.id}/end")
        assert ended.status_code == 202, ended.text
    await customer.run_due()


async def test_a_request_for_a_human_refused_once_is_made_again_after_the_state_check(
    make_world: WorldFactory,
) -> None:
    """The trial: the customer wrote 转人工, WeCom refused the trans with 95016, Kefu reconciled
    (WeCom: still with the API) and the request was dropped without a word. WeCom's answer says
    the customer is still with the API, from where a human is allowed: the request stands."""
    world = await make_world(settings=AI_FIRST, servicers=["alice"], kb=True)
    refuse_trans(world, 1)
    world.says("转人工")
    await world.settle()
    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "alice")
    transfers = [a for a in await world.actions() if a.kind == "transfer"]
    assert [(a.status, a.errcode) for a in transfers] == [("refused", 95016), ("done", None)]
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.servicer_userid) == (3, "alice")


@pytest.mark.parametrize("queue", [{}, {"over_length_message": OVER_LENGTH}], ids=["default", "over_length"])
async def test_a_request_refused_again_tells_the_customer_and_a_later_request_is_routed(
    make_world: WorldFactory, queue: dict[str, object]
) -> None:
    """Tried once more only: a second refusal is WeCom's answer. The customer hears that no human
    can be reached just now, to try again later, and stays with the AI. Not the over-length
    message (the trial's): off by default, so most customers heard nothing, and where it is set
    it says the queue is full (the pool is empty here) and may invite a 留言 Kefu does not keep."""
    world = await make_world(settings={**AI_FIRST, "queue": queue}, servicers=["alice"], kb=True)
    refuse_trans(world, 2)
    world.says("转人工")
    await world.settle()
    assert world.session()["state"] == 1  # the message went out: the API holds the session
    [told] = world.inbox()
    assert texts_of(told) == "抱歉，暂时无法为您转接人工客服，请稍后再试。"
    transfers = [a for a in await world.actions() if a.kind == "transfer"]
    assert [(a.status, a.errcode) for a in transfers] == [("refused", 95016), ("refused", 95016)]

    world.says("怎么退货")  # the AI goes on answering
    await world.settle()
    assert texts_of(world.inbox()[-1]).startswith("收到商品 7 天内")
    world.says("转人工")  # a new request is routed as any
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


REFUSED_OWN = {"mode": "fixed", "text": "人工客服暂时接不通，您可以先留言，我们会尽快回复。"}


@pytest.mark.parametrize(
    ("message", "told"),
    [
        (REFUSED_OWN, ["人工客服暂时接不通，您可以先留言，我们会尽快回复。"]),
        ({"mode": "none"}, []),
    ],
    ids=["fixed", "none"],
)
async def test_the_text_of_a_request_refused_again_is_the_accounts_own(
    make_world: WorldFactory, message: dict[str, str], told: list[str]
) -> None:
    """Like every other text a customer reads, the account's admin words it (or turns it off)."""
    queue = {"transfer_refused_message": message}
    world = await make_world(settings={**AI_FIRST, "queue": queue}, servicers=["alice"], kb=True)
    refuse_trans(world, 2)
    world.says("转人工")
    await world.settle()
    assert [texts_of(m) for m in world.inbox()] == told
    world.says("转人工")  # still routed as any later request
    await world.settle()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "alice")


async def test_a_request_refused_again_in_ai_phrasing_keeps_its_meaning(make_world: WorldFactory) -> None:
    queue = {"transfer_refused_message": {"mode": "ai"}}
    world = await make_world(settings={**AI_FIRST, "queue": queue}, servicers=["alice"], kb=True)
    refuse_trans(world, 2)
    world.says("转人工")
    await world.settle()
    [told] = world.inbox()
    assert texts_of(told) in DEFAULT_PHRASES["transfer_refused"]


async def test_a_queue_timeout_wecom_refuses_keeps_the_customer_in_the_pool_and_tells_them(
    make_world: WorldFactory,
) -> None:
    """The trial: WeCom refused 2 → 4; Kefu closed the session in its records (owner none) while
    WeCom kept the customer waiting in its pool (state 2), and the customer heard nothing. Now
    Kefu reads WeCom's state, keeps the customer in its pool as WeCom does, sends the timeout
    message with the pool's code (unused here: no pool notice), and keeps what they write."""
    world, first = await full_pool(make_world)
    world.set_sim(allow_unconfirmed_moves=False)  # 2 → 4 is UNCONFIRMED in WeCom's docs

    world.rt.clock.advance(timedelta(minutes=31))
    await world.run_due()
    assert first.session()["state"] == 2  # WeCom kept the customer in its pool
    assert [texts_of(m) for m in first.inbox()] == ["排队超时，欢迎留言"]
    assert first.inbox()[0]["code_kind"] == "pool"
    conversation = await first.conversation()
    assert (conversation.wecom_state, conversation.owner) == (2, "pool")
    assert conversation.state is not None and not conversation.state["ended_locally"]
    assert conversation.next_idle_check_at is None or conversation.next_idle_check_at > world.rt.clock.now()
    transfers = [a for a in await first.actions() if a.kind == "transfer"]
    ends = [a for a in transfers if a.payload["action"]["target_state"] == 4]
    assert [(a.status, a.errcode) for a in ends] == [("refused", 95016)]  # asked once, not in a loop
    async with api_client(world.rt) as api:
        pool = (await api.get(f"/api/v1/accounts/{world.account.id}/pool")).json()
        assert [w["external_userid"] for w in pool] == [first.customer]  # as WeCom's pool shows

        first.says("我的订单 A123 还没发货")  # what they write now is a message left (留言)
        await world.settle()
        [left] = (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json()
    assert (left["reason"], left["external_userid"]) == ("queue_timeout", first.customer)
    assert [m["text"] for m in left["messages"]] == ["我的订单 A123 还没发货"]

    reception_status(world, "alice", 1)  # a servicer who comes on duty still takes them
    await world.settle()
    assert (first.session()["state"], first.session()["servicer_userid"]) == (3, "alice")


async def test_a_refused_queue_timeout_ended_by_hand_later_is_not_told_twice(
    make_world: WorldFactory,
) -> None:
    """The customer read the timeout message (the pool's code carried it) and WeCom kept them
    waiting; an admin then ends the wait by hand, and WeCom's ending code came back with it.
    Their wait was over for them already: the ending code carries nothing (a second timeout text
    reads like a glitch; an ending and a survey would thank them for a service nobody gave)."""
    world, first = await full_pool(make_world)
    await time_out_refused(world)
    assert first.session()["state"] == 2
    assert [texts_of(m) for m in first.inbox()] == ["排队超时，欢迎留言"]

    await end_by_hand(first)
    assert first.session()["state"] == 4
    assert [texts_of(m) for m in first.inbox()] == ["排队超时，欢迎留言"]


async def test_a_refused_queue_timeout_untold_is_told_by_the_end_by_hand(make_world: WorldFactory) -> None:
    """The pool notice spent the pool's code, so nothing could tell the customer of the timeout
    while WeCom kept them waiting; the end by hand is the first word Kefu can send: the timeout
    message (their wait was timed out, and what they write is kept as a 留言), once."""
    world, first = await full_pool(make_world, queue={**QUEUE_LIMITS, **POOL_NOTICE})
    await time_out_refused(world)
    assert [texts_of(m) for m in first.inbox()] == ["正在为您排队，您前面还有 0 位"]

    await end_by_hand(first)
    assert first.session()["state"] == 4
    assert [texts_of(m) for m in first.inbox()] == ["正在为您排队，您前面还有 0 位", "排队超时，欢迎留言"]


async def test_a_customer_served_after_a_refused_queue_timeout_gets_the_usual_ending(
    make_world: WorldFactory,
) -> None:
    """Told of the timeout while WeCom kept them waiting, then taken by a servicer who came on
    duty: that session was served, so its end brings the ending and the survey as any does."""
    world, first = await full_pool(make_world, messages=MESSAGES_ON)
    await time_out_refused(world)
    assert [texts_of(m) for m in first.inbox()] == ["排队超时，欢迎留言"]

    reception_status(world, "alice", 1)
    await world.settle()
    assert (first.session()["state"], first.session()["servicer_userid"]) == (3, "alice")
    first.servicer("end", "alice")  # in the WeCom app
    await world.settle()
    assert [texts_of(m) for m in first.inbox()] == [
        "排队超时，欢迎留言",
        "本次服务已结束，感谢您的咨询\n请为本次服务评分 | 满意 | 一般 | 不满意 | ",
    ]
