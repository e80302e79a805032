"""会话记录 and a session's page: the transcript shows the customer's, the AI's and the servicer's
messages in order; a servicer ends or transfers their own session and WeCom really follows (the
simulator); another servicer's session is not theirs to end; binding the customer to a CRM
contact persists, and a bad choice is refused with nothing saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kefu.accounts.models import Servicer
from kefu.crm.models import CrmContact, WechatCustomer
from kefu.runtime import Runtime
from tests.console.conftest import SignIn
from tests.console.workbench_world import (
    another_customer,
    customer_in_pool,
    desk,
    make_world,
    post,
    waiting_world,
)
from tests.reception.conftest import World, WorldFactory

__all__ = ["make_world"]
pytestmark = [pytest.mark.db, pytest.mark.e2e]
POOL, SESSIONS, LIST = "/console/workbench/pool", "/console/workbench/sessions", "/console/conversations"


async def taken_by(world: World, signed_in: SignIn, role: str = "servicer", userid: str = "") -> int:
    client = await signed_in(role)
    conversation = (await world.conversation()).id
    fields = {"servicer_userid": userid} if userid else {}
    assert (await post(client, POOL, f"{POOL}/{conversation}/take", **fields)).status_code == 303
    await world.run_due()
    assert world.session()["state"] == 3
    return conversation


def lines(html: str) -> list[tuple[str, str]]:
    """(who, text) of the transcript's messages, in order."""
    found = re.findall(
        r'<div class="line line-(customer|servicer|ai|kefu)[^"]*">\s*<div class="who">.*?</div>\s*'
        r'<div class="bubble">(.*?)</div>',
        html,
        re.S,
    )
    return [(who, text) for who, text in found]


async def test_the_transcript_shows_customer_ai_and_servicer_messages_in_order(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = await taken_by(world, signed_in)
    world.rt.clock.advance(timedelta(seconds=5))
    world.servicer("reply", "zhangsan", msgtype="text", text={"content": "您好，我是张三"})
    world.rt.clock.advance(timedelta(seconds=5))
    world.says("好的，谢谢")
    await world.settle()
    servicer = await signed_in("servicer")

    page = await servicer.get(f"{LIST}/{conversation}")
    assert page.status_code == 200
    said = lines(page.text)
    assert [who for who, _ in said if who in ("customer", "servicer")][-2:] == ["servicer", "customer"]
    texts = [text for _, text in said]
    assert (
        texts.index("怎么退货")
        < texts.index("转人工")
        < texts.index("您好，我是张三")
        < texts.index("好的，谢谢")
    )
    assert said[1][0] == "ai" and said[1][1].startswith("收到商品 7 天内可在订单页申请退货")
    assert "人工接待（zhangsan）" in page.text
    fragment = await servicer.get(f"{LIST}/{conversation}/transcript")
    assert lines(fragment.text) == said
    listing = await servicer.get(LIST)
    assert f'href="/console/conversations/{conversation}"' in listing.text
    relisted = await servicer.get(f"{LIST}/list")  # what the open list re-reads on a change
    assert f'href="/console/conversations/{conversation}"' in relisted.text and "<h1>" not in relisted.text


async def test_a_small_talk_reply_shows_as_the_ais_words(make_world: WorldFactory, signed_in: SignIn) -> None:
    world = await make_world(kb=True)
    world.says("你好")
    await world.settle()
    admin = await signed_in("admin")
    page = await admin.get(f"{LIST}/{(await world.conversation()).id}")
    assert lines(page.text) == [("customer", "你好"), ("ai", "您好，请问有什么可以帮您？")]


async def test_a_picture_the_customer_sent_is_named_in_the_readers_language(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await make_world(kb=True)
    world.sends_image()
    await world.settle()
    admin = await signed_in("admin")
    page = await admin.get(f"{LIST}/{(await world.conversation()).id}")
    assert lines(page.text)[0] == ("customer", "[图片]")
    admin.cookies.set("kefu_lang", "en")
    page = await admin.get(f"{LIST}/{(await world.conversation()).id}")
    assert lines(page.text)[0] == ("customer", "[Picture]")


async def test_the_servicer_ends_their_session_and_wecom_ends_it(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = await taken_by(world, signed_in)
    servicer = await signed_in("servicer")

    ended = await post(servicer, SESSIONS, f"{LIST}/{conversation}/end")
    assert ended.status_code == 303
    await world.run_due()
    assert world.session()["state"] == 4
    assert desk((await servicer.get(SESSIONS)).text) == []
    again = await post(servicer, f"{LIST}/{conversation}", f"{LIST}/{conversation}/end")
    assert again.status_code == 403  # no longer theirs: it ended


async def test_the_transcript_says_what_each_state_change_and_request_was(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    """Each state change names the states it went between, and an end request reads as one —
    where every change read 会话状态变更 alone and the end read 请求转接. The session bar's
    servicer follows the reader's language (no Chinese brackets in English)."""
    world = await waiting_world(make_world)
    conversation = await taken_by(world, signed_in)
    admin = await signed_in("admin")
    assert "人工接待（zhangsan）" in (await admin.get(f"{LIST}/{conversation}")).text
    admin.cookies.set("kefu_lang", "en")
    assert "With a servicer (zhangsan)" in (await admin.get(f"{LIST}/{conversation}")).text
    admin.cookies.set("kefu_lang", "zh")
    assert (await post(admin, SESSIONS, f"{LIST}/{conversation}/end")).status_code == 303
    await world.run_due()

    page = (await admin.get(f"{LIST}/{conversation}/transcript")).text
    found = re.findall(r'class="line line-note">(.*?)<span', page, re.S)
    notes = [re.sub(r"\s+", " ", note).strip() for note in found]
    assert "会话状态：智能助手接待 → 排队中" in notes
    assert "会话状态：排队中 → 人工接待 · zhangsan" in notes
    assert "请求结束会话" in notes and "会话状态：人工接待 → 已结束" in notes
    assert "会话状态变更" not in notes


async def test_the_transfer_choice_shows_whom_a_hand_over_would_find_receiving_with_room(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    """Each colleague offered comes with their load, or why a hand-over to them would be
    refused — where the list named them alone and the refusal came after the try."""
    world = await waiting_world(make_world, servicers=("zhangsan", "lisi", "wangwu"))
    conversation = await taken_by(world, signed_in)
    later = another_customer(world, "小林")
    await customer_in_pool(later)
    await taken_by(later, signed_in, "admin", "wangwu")
    async with world.rt.db.write() as session:
        rows = {r.userid: r for r in await session.scalars(select(Servicer))}
        rows["lisi"].status = 1  # stopped receiving in the WeCom app
        rows["wangwu"].max_sessions = 1

    page = (await (await signed_in("admin")).get(f"{LIST}/{conversation}")).text
    choice = page.split('class="inline transfer-form"', 1)[1].split("</select>", 1)[0]
    assert '<option value="lisi">lisi（未在接待）</option>' in choice
    assert '<option value="wangwu">wangwu（1/1 已满）</option>' in choice


async def test_the_servicer_transfers_their_session_to_a_colleague(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = await taken_by(world, signed_in)
    servicer = await signed_in("servicer")

    moved = await post(servicer, SESSIONS, f"{LIST}/{conversation}/transfer", servicer_userid="lisi")
    assert moved.status_code == 303
    await world.run_due()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "lisi")
    assert desk((await servicer.get(SESSIONS)).text) == []


async def test_another_servicers_session_is_not_the_servicers_to_end_but_a_supervisors(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = await taken_by(world, signed_in, role="admin", userid="lisi")
    servicer, supervisor = await signed_in("servicer"), await signed_in("supervisor")

    assert (await post(servicer, f"{LIST}/{conversation}", f"{LIST}/{conversation}/end")).status_code == 403
    assert (
        await servicer.post(f"{LIST}/{conversation}/transfer", data={"servicer_userid": "x"})
    ).status_code == 403
    await world.run_due()
    assert world.session()["servicer_userid"] == "lisi"
    no_csrf = await supervisor.post(f"{LIST}/{conversation}/end", data={})
    assert no_csrf.status_code == 403
    assert (await post(supervisor, SESSIONS, f"{LIST}/{conversation}/end")).status_code == 303
    await world.run_due()
    assert world.session()["state"] == 4


async def test_ending_a_session_that_is_not_with_a_servicer_says_why(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = await taken_by(world, signed_in)
    admin = await signed_in("admin")
    assert (await post(admin, SESSIONS, f"{LIST}/{conversation}/end")).status_code == 303
    await world.run_due()
    refused = await post(admin, f"{LIST}/{conversation}", f"{LIST}/{conversation}/end")
    assert refused.status_code == 409
    assert "该会话既不在人工接待中，也不在接待池中等待" in refused.text


async def add_contact(rt: Runtime, name: str) -> int:
    async with rt.db.write() as session:
        now = datetime.now(UTC)
        contact = CrmContact(name=name, phone="13800000000", created_at=now, updated_at=now)
        session.add(contact)
        await session.flush()
        return contact.id


async def test_binding_the_customer_to_a_contact_persists(
    make_world: WorldFactory, signed_in: SignIn, rt: Runtime
) -> None:
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    contact = await add_contact(rt, "王小明")
    servicer = await signed_in("servicer")

    found = await servicer.get(f"{LIST}/{conversation}", params={"contact_q": "王小明"})
    assert "王小明" in found.text and f'name="contact_id" value="{contact}"' in found.text
    bad = await post(servicer, f"{LIST}/{conversation}", f"{LIST}/{conversation}/contact", contact_id="x")
    assert bad.status_code == 422 and "请选择要绑定的联系人" in bad.text
    missing = await post(
        servicer, f"{LIST}/{conversation}", f"{LIST}/{conversation}/contact", contact_id="999"
    )
    assert missing.status_code == 404
    async with rt.db.read() as session:
        assert await session.scalar(select(WechatCustomer.contact_id)) is None

    bound = await post(
        servicer, f"{LIST}/{conversation}", f"{LIST}/{conversation}/contact", contact_id=str(contact)
    )
    assert bound.status_code == 303
    async with rt.db.read() as session:
        row = await session.scalar(
            select(WechatCustomer).where(WechatCustomer.external_userid == world.customer)
        )
    assert row is not None and row.contact_id == contact
    page = await servicer.get(f"{LIST}/{conversation}")
    assert 'id="bound-contact"' in page.text and "王小明" in page.text
    assert "王小明" in (await servicer.get(POOL)).text  # the pool names the contact too


async def test_the_transcript_says_why_an_older_question_got_no_answer_of_its_own(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    """Kefu caught up on seven questions at once: WeCom allows five sends after the latest, so the
    two oldest were held back — the transcript says so instead of leaving them unexplained."""
    world = await make_world(kb=True, servicers=["zhangsan"])
    for n in range(7):
        world.says(f"第{n}次问：怎么退货")
    await world.pull()
    await world.run_due()
    conversation = (await world.conversation()).id
    admin = await signed_in("admin")

    page = await admin.get(f"{LIST}/{conversation}")
    assert page.status_code == 200
    assert page.text.count("AI 未单独回复此条") == 2
    assert [who for who, _ in lines(page.text)].count("ai") == 5


async def test_the_session_bar_shows_the_reply_window_and_the_sends_left(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    """WeCom's two limits, as the mirror sees them: replies within 48 h of the customer's last
    message, and at most five of Kefu's sends after it (one used by the AI's answer)."""
    world = await make_world(kb=True, servicers=["zhangsan"])
    world.says("怎么退货")
    await world.settle()
    conversation = (await world.conversation()).id
    admin = await signed_in("admin")

    page = await admin.get(f"{LIST}/{conversation}")
    closes = (world.rt.clock.now() + timedelta(hours=48 + 8)).strftime("%m-%d %H:%M")  # China's time
    assert f"可回复至 {closes}（客户最后一条消息后 48 小时） · AI 还可发送 4 条" in page.text

    world.rt.clock.advance(timedelta(hours=49))
    page = await admin.get(f"{LIST}/{conversation}")
    assert "已超过 48 小时回复窗口" in page.text
