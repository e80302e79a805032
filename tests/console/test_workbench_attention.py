"""留言 and 待回复: what a customer left off hours is listed with their words and closed once with a
note (a second close says who closed it, a too-long note saves nothing); a customer waiting for
their servicer's reply is listed for that servicer, for managers, and not for another servicer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kefu.api.models import ConsoleUser
from kefu.reception.models import FollowUp
from kefu.runtime import Runtime
from tests.console.conftest import SignIn
from tests.console.workbench_world import POOL_ONLY, desk, make_world, post, waiting_world
from tests.reception.conftest import WorldFactory

__all__ = ["make_world"]
pytestmark = [pytest.mark.db, pytest.mark.e2e]
FOLLOW_UPS, AWAITING = "/console/workbench/follow-ups", "/console/workbench/awaiting-reply"
EVENING = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday 20:00 in Shanghai: closed


async def test_a_message_left_off_hours_is_listed_and_closed_once(
    make_world: WorldFactory, signed_in: SignIn, rt: Runtime
) -> None:
    world = await make_world(at=EVENING, settings=POOL_ONLY, servicers=["zhangsan"], kb=True)
    world.says("转人工")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=2))
    world.says("洗衣机漏水了，明天上午联系我")
    await world.settle()
    servicer, admin = await signed_in("servicer"), await signed_in("admin")

    page = await servicer.get(FOLLOW_UPS)
    assert "非工作时间" in page.text and "洗衣机漏水了，明天上午联系我" in page.text
    async with rt.db.read() as session:
        follow_up = await session.scalar(select(FollowUp))
    assert follow_up is not None
    close = f"{FOLLOW_UPS}/{follow_up.id}/close"
    too_long = await post(servicer, FOLLOW_UPS, close, note="长" * 501)
    assert too_long.status_code == 422
    assert (await post(servicer, FOLLOW_UPS, close, note="已回电")).status_code == 303
    async with rt.db.read() as session:
        row = await session.get(FollowUp, follow_up.id)
    assert row is not None and (row.status, row.closed_by, row.note) == ("closed", "servicer0", "已回电")
    again = await post(admin, FOLLOW_UPS, close)
    assert again.status_code == 409 and "servicer0" in again.text
    closed = (await admin.get(FOLLOW_UPS, params={"status": "closed"})).text
    assert "已回电" in closed and "servicer0 于" in closed
    async with rt.db.write() as session:  # named: shown by the name people know, not the login
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == "servicer0"))
        assert user is not None
        user.display_name = "张三"
    assert "张三 于" in (await admin.get(FOLLOW_UPS, params={"status": "closed"})).text
    assert "洗衣机漏水了" not in (await admin.get(FOLLOW_UPS)).text


async def test_a_picture_left_off_hours_is_named_as_a_picture(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await make_world(at=EVENING, settings=POOL_ONLY, servicers=["zhangsan"], kb=True)
    world.says("转人工")
    await world.settle()
    world.sends_image()
    await world.settle()
    page = await (await signed_in("admin")).get(FOLLOW_UPS)
    assert "[图片]" in page.text and "[image]" not in page.text


async def test_a_customer_waiting_for_their_servicers_reply_is_listed(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    admin, servicer = await signed_in("admin"), await signed_in("servicer")
    assert (
        await post(
            admin,
            "/console/workbench/pool",
            f"/console/workbench/pool/{conversation}/take",
            servicer_userid="lisi",
        )
    ).status_code == 303
    await world.run_due()
    world.says("还在吗？")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=7))

    listed = await admin.get(AWAITING)
    assert desk(listed.text) == [conversation] and "7 分钟" in listed.text
    assert desk((await admin.get(AWAITING, params={"min_minutes": 10})).text) == []
    assert desk((await servicer.get(AWAITING)).text) == []  # lisi's customer, not zhangsan's
    # The open page re-reads its list as the minutes pass (and on each change), with its filter.
    world.rt.clock.advance(timedelta(minutes=5))
    relisted = await admin.get(f"{AWAITING}/list", params={"min_minutes": 10})
    assert desk(relisted.text) == [conversation] and "12 分钟" in relisted.text
