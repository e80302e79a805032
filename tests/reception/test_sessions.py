"""The session rules through the simulator: the welcome and its 20-second deadline, a refused send
reconciled (95018), and the AI idle timeout with WeCom allowing or refusing 1 → 4."""

from __future__ import annotations

import pytest

from kefu.accounts.models import Connection
from kefu.accounts.service import wecom_client
from kefu.ai.phrasing import DEFAULT_PHRASES
from tests.reception.conftest import MESSAGES_ON, World, WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]

WELCOME = {"messages": {"welcome": MESSAGES_ON["welcome"]}}
NON_TEXT_REPLY = "暂时只能识别文字，请用文字描述"


async def test_welcome_on_enter_session_within_20_seconds(make_world: WorldFactory) -> None:
    world = await make_world(settings=WELCOME)
    world.enters()
    await world.settle()
    [welcome] = world.inbox()
    assert (welcome["source"], welcome["code_kind"]) == ("send_msg_on_event", "welcome")
    assert texts_of(welcome) == "您好，欢迎咨询青禾家电"


async def test_an_ai_worded_welcome_is_one_of_the_wordings(make_world: WorldFactory) -> None:
    world = await make_world(settings={"messages": {"welcome": {"mode": "ai"}}})
    world.enters()
    await world.settle()
    [welcome] = world.inbox()
    assert texts_of(welcome) in DEFAULT_PHRASES["welcome"]  # the built-in AI words it from its variants


async def test_a_welcome_the_worker_reaches_after_20_seconds_is_dropped_not_sent(
    make_world: WorldFactory,
) -> None:
    world = await make_world(settings=WELCOME)
    world.enters()
    await world.settle(max_jobs=2)  # pulled and decided; the worker stops before delivering
    world.rt.clock.advance(21)
    await world.run_due()
    assert world.inbox() == [] and world.sends() == []
    [action] = await world.actions()
    assert action.kind == "send_on_event" and action.status == "pending"
    transcript = await world.transcript()
    [dropped] = [item for item in transcript if item.type == "action"]
    assert (dropped.kind, dropped.status) == ("send_on_event", "dropped")
    # The next decision for the conversation records it for good.
    world.sends_image()
    await world.settle()
    assert (await world.actions())[0].status == "dropped"


async def trans(world: World, state: int, servicer: str | None = None) -> None:
    """WeCom moving the session on its own (its own assignment, or the admin), behind Kefu's back."""
    async with world.rt.db.read() as session:
        connection = await session.get(Connection, world.account.connection_id)
    assert connection is not None
    await wecom_client(world.rt, connection).service_state_trans(
        open_kfid=world.open_kfid,
        external_userid=world.customer,
        service_state=state,
        servicer_userid=servicer,
    )


async def test_a_servicer_takes_the_session_before_delivery_95018_is_reconciled_never_resent(
    make_world: WorldFactory,
) -> None:
    world = await make_world(servicers=["alice"])
    world.sends_image()
    await world.settle(max_jobs=2)  # decided: a non-text reply waits in the outbox
    await trans(world, 2)
    world.servicer("take", "alice")  # in the WeCom app, between decide and delivery
    await world.settle()

    refused = [s for s in world.sends() if s["endpoint"] == "kf/send_msg"]
    assert [(s["errcode"], s["delivered"]) for s in refused] == [(95018, False)]  # tried once, never again
    actions = await world.actions()
    # The take in the app is recorded (before or after the reconcile: the two race).
    (recorded,) = [a for a in actions if a.kind == "record_routing"]
    assert recorded.payload["action"]["decision"]["rule"] == "app"
    send, reconcile = [a for a in actions if a.kind != "record_routing"]
    assert (send.kind, send.status, send.errcode) == ("send", "refused", 95018)
    assert (reconcile.kind, reconcile.status) == ("reconcile", "done")
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.servicer_userid) == (3, "alice")
    kinds = [item.kind for item in await world.transcript() if item.type == "timeline"]
    assert "reconciled" in kinds and "send_refused" in kinds
    assert world.inbox() == []


IDLE = {"session": {"ai_idle_timeout_minutes": 10}, "messages": MESSAGES_ON}


async def test_an_idle_ai_session_is_ended_with_the_ending_message(make_world: WorldFactory) -> None:
    world = await make_world(settings=IDLE)
    world.sends_image()
    await world.settle()
    assert world.session()["state"] == 1
    world.rt.clock.advance(9 * 60)
    await world.run_due()
    assert world.session()["state"] == 1  # not yet
    world.rt.clock.advance(61)
    await world.run_due()
    assert world.session()["state"] == 4
    reply, ending = world.inbox()
    assert texts_of(reply) == NON_TEXT_REPLY
    # The ending alone: the survey rates a servicer's service and no servicer served.
    assert ending["code_kind"] == "ending" and texts_of(ending) == "本次服务已结束，感谢您的咨询"
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.next_idle_check_at) == (4, None)


async def test_an_idle_end_wecom_refuses_ends_in_kefus_records_only(make_world: WorldFactory) -> None:
    world = await make_world(settings=IDLE)
    world.set_sim(allow_unconfirmed_moves=False)
    world.sends_image()
    await world.settle()
    world.rt.clock.advance(11 * 60)
    await world.run_due()
    assert world.session()["state"] == 1  # WeCom kept it
    assert [texts_of(m) for m in world.inbox()] == [NON_TEXT_REPLY]  # nothing else sent
    transfer = (await world.actions())[-1]
    assert (transfer.kind, transfer.status, transfer.errcode) == ("transfer", "refused", 95016)
    conversation = await world.conversation()
    assert conversation.state["ended_locally"] is True and conversation.owner == "none"
    assert conversation.next_idle_check_at is None


async def test_an_idle_end_is_called_off_when_the_customer_wrote_meanwhile(make_world: WorldFactory) -> None:
    world = await make_world(settings=IDLE)
    world.sends_image()
    await world.settle()
    world.rt.clock.advance(11 * 60)
    await world.run_due(max_jobs=2)  # the tick, then the idle end decided; its trans not yet sent
    world.sends_image()  # … the customer writes before the trans goes out
    await world.pull()
    await world.run_due()
    assert world.session()["state"] == 1
    transfer = next(a for a in await world.actions() if a.kind == "transfer")
    assert transfer.status == "dropped" and "wrote again" in (transfer.error or "")
    assert [texts_of(m) for m in world.inbox()] == [NON_TEXT_REPLY, NON_TEXT_REPLY]
