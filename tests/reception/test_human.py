"""Human reception through the simulator: human-only transfer, the pool and its notice, a servicer
ending the session in the app, the ending + survey menu, and a rating click."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from kefu.accounts.models import GlobalSetting, KfAccount, Servicer
from kefu.api.users import create_user
from tests.reception.conftest import MESSAGES_ON, POOL_NOTICE, WorldFactory, texts_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]

HUMAN_ONLY = {"reception": {"mode": "human_only"}}


async def test_human_only_first_message_goes_to_a_servicer(make_world: WorldFactory) -> None:
    world = await make_world(settings=HUMAN_ONLY, servicers=["alice"])
    world.says("你好，我想咨询一下")
    await world.settle()
    session = world.session()
    assert (session["state"], session["servicer_userid"]) == (3, "alice")
    assert world.inbox() == []  # no AI in human-only mode; the taken notice is off by default
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.owner, conversation.servicer_userid) == (
        3,
        "servicer",
        "alice",
    )


async def test_everyone_off_duty_queues_the_customer_with_the_pool_notice(make_world: WorldFactory) -> None:
    world = await make_world(settings={**HUMAN_ONLY, "queue": POOL_NOTICE}, servicers=["alice"])
    world.sim.control(
        "POST", f"corps/{world.corp['corpid']}/members/alice/reception", {"status": 2, "stop_type": 0}
    )
    await world.settle()  # Kefu follows the servicer_status_change: alice is off duty
    world.says("人工客服在吗")
    await world.settle()
    assert world.session()["state"] == 2
    assert [(a.kind, a.status) for a in await world.actions()] == [
        ("record_routing", "done"),
        ("transfer", "done"),
        ("send_on_event", "done"),
    ]
    [notice] = world.inbox()
    assert notice["source"] == "send_msg_on_event" and notice["code_kind"] == "pool"
    assert texts_of(notice) == "正在为您排队，您前面还有 0 位"
    assert (await world.conversation()).owner == "pool"


async def test_a_servicer_ends_in_the_app_then_one_ending_survey_menu_and_a_rating_click(
    make_world: WorldFactory,
) -> None:
    # AI first, so that the rating click is seen not to be answered by the AI.
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice"], kb=True)
    world.says("我的洗衣机坏了，转人工")
    await world.settle()
    assert world.session()["state"] == 3
    world.servicer("reply", "alice", msgtype="text", text={"content": "您好，我来帮您看看"})
    world.servicer("end", "alice")
    await world.settle()

    [menu] = [m for m in world.inbox() if m["source"] == "send_msg_on_event"]
    assert menu["code_kind"] == "ending" and menu["msgtype"] == "msgmenu"
    # The ending, then the survey prompt, both before the buttons; nothing after them.
    assert texts_of(menu) == "本次服务已结束，感谢您的咨询\n请为本次服务评分 | 满意 | 一般 | 不满意 | "
    conversation = await world.conversation()
    assert (conversation.wecom_state, conversation.session_no) == (4, 1)

    ratings = [item["click"]["id"] for item in menu["body"]["list"]]
    world.clicks(menu["msgid"], ratings[0])
    world.clicks(menu["msgid"], ratings[2])  # a second click: the first rating wins
    await world.settle()

    rated = await world.ratings()
    assert [(r.session_no, r.score, r.label, r.servicer_userid) for r in rated] == [(1, 100, "满意", "alice")]
    after = [m for m in world.inbox() if m["seq"] > menu["seq"]]
    assert [texts_of(m) for m in after] == ["感谢您的评价！"]  # thanked once; no AI answer, no routing
    assert world.session()["state"] == 1  # the reopened session was not routed to anyone
    assert (await world.conversation()).state["session_kind"] == "rating_only"


async def test_a_rating_typed_instead_of_tapped_is_recorded_as_the_tap(make_world: WorldFactory) -> None:
    """The user trial typed 非常满意 under the survey: it was lost, and answered as a question."""
    world = await make_world(settings={"messages": MESSAGES_ON}, servicers=["alice"], kb=True)
    world.says("我的洗衣机坏了，转人工")
    await world.settle()
    world.servicer("reply", "alice", msgtype="text", text={"content": "您好，我来帮您看看"})
    world.servicer("end", "alice")
    await world.settle()
    [menu] = [m for m in world.inbox() if m["source"] == "send_msg_on_event"]

    world.says("一般。")
    await world.settle()
    rated = await world.ratings()
    assert [(r.session_no, r.label, r.servicer_userid) for r in rated] == [(1, "一般", "alice")]
    after = [m for m in world.inbox() if m["seq"] > menu["seq"]]
    assert [texts_of(m) for m in after] == ["感谢您的评价！"]  # no AI answer, no 留言
    world.says("满意")  # the session is rated: now it is only a message
    await world.settle()
    assert len(await world.ratings()) == 1


TAKEN_BY_NAME = {"queue": {"taken_notice": {"mode": "fixed", "text": "您好，客服{servicer}为您服务"}}}


@pytest.mark.parametrize(("given", "bound", "told"), [("小王", "王经理", "小王"), (None, "王经理", "王经理")])
async def test_the_taken_notice_names_the_servicer(
    make_world: WorldFactory, given: str | None, bound: str, told: str
) -> None:
    """The trial sent 您好，客服{servicer}为您服务 as written. `{servicer}` is the name the admin
    gave the servicer on the account, else the bound console user's display name."""
    world = await make_world(settings={**HUMAN_ONLY, **TAKEN_BY_NAME}, servicers=["alice"])
    async with world.rt.db.write() as session:
        await session.execute(update(Servicer).where(Servicer.userid == "alice").values(name=given))
        await create_user(
            session,
            username="alice_login",
            password="Qinghe-2026-servicer",
            role="servicer",
            wecom_userid="alice",
            display_name=bound,
        )
    world.says("你好，我想咨询一下")
    await world.settle()
    assert world.session()["servicer_userid"] == "alice"
    [notice] = world.inbox()
    assert notice["code_kind"] == "taken"
    assert texts_of(notice) == f"您好，客服{told}为您服务"


async def test_with_no_name_known_the_taken_notice_names_nobody_not_the_userid(
    make_world: WorldFactory,
) -> None:
    """A userid is often an employee or phone number: not for customers' eyes."""
    world = await make_world(settings={**HUMAN_ONLY, **TAKEN_BY_NAME}, servicers=["alice"])
    world.says("你好，我想咨询一下")
    await world.settle()
    [notice] = world.inbox()
    assert texts_of(notice) == "您好，客服为您服务"


async def test_a_taken_notice_stored_with_other_braces_before_the_rule_still_serves(
    make_world: WorldFactory,
) -> None:
    """An earlier Kefu took any braces in the taken notice; reading such settings back now must
    not stop the account (every decision reads them): the text goes out as it was written."""
    world = await make_world(settings=HUMAN_ONLY, servicers=["alice"])
    async with world.rt.db.write() as session:
        account = await session.get(KfAccount, world.account.id)
        assert account is not None
        stored = dict(account.settings or {})
        stored["queue"] = {"taken_notice": {"mode": "fixed", "text": "您好{微笑}人工客服已接入 :-}"}}
        account.settings = stored
    world.says("你好，我想咨询一下")
    await world.settle()
    assert world.session()["servicer_userid"] == "alice"
    [notice] = world.inbox()
    assert texts_of(notice) == "您好{微笑}人工客服已接入 :-}"


async def test_texts_stored_with_a_control_character_before_the_check_still_serve(
    make_world: WorldFactory,
) -> None:
    """An earlier Kefu took Word's line break (\\x0b) in an account's texts and the AI's; they are
    refused where they are typed now, but reading them back must not stop the account (every
    decision reads both): the text goes out as it was written."""
    world = await make_world(settings=HUMAN_ONLY, servicers=["alice"])
    async with world.rt.db.write() as session:
        account = await session.get(KfAccount, world.account.id)
        assert account is not None
        taken = {"taken_notice": {"mode": "fixed", "text": "您好\x0b人工客服已接入"}}
        account.settings = {**(account.settings or {}), "queue": taken}
        ai = await session.get(GlobalSetting, "ai") or GlobalSetting(key="ai", data={})
        ai.data = {**ai.data, "not_sure_text": "这个问题\x0b我还不会", "small_talk": {"thanks": "不客气\x1b"}}
        ai.updated_at = world.rt.clock.now()
        session.add(ai)
    world.says("你好，我想咨询一下")
    await world.settle()
    assert world.session()["servicer_userid"] == "alice"
    [notice] = world.inbox()
    assert texts_of(notice) == "您好\x0b人工客服已接入"
