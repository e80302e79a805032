"""排队池 and 我的会话: a servicer sees the pool of their own accounts only and takes a customer
for themselves — WeCom really hands the session over (the simulator says so) and the customer
moves to 我的会话; an admin takes for a servicer they choose; a refused take says why; a POST
without the CSRF token or for an account the servicer does not receive for changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kefu.accounts.models import Servicer
from tests.console.conftest import SignIn
from tests.console.workbench_world import (
    another_customer,
    customer_in_pool,
    desk,
    make_world,
    post,
    second_account,
    waiting_world,
)
from tests.reception.conftest import WorldFactory

__all__ = ["make_world"]
pytestmark = [pytest.mark.db, pytest.mark.e2e]
POOL, SESSIONS = "/console/workbench/pool", "/console/workbench/sessions"


async def test_a_servicer_sees_the_pool_of_their_accounts_only(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    ours = await waiting_world(make_world)
    theirs = await second_account(ours)  # another account: not zhangsan's
    mine, other = (await ours.conversation()).id, (await theirs.conversation()).id
    servicer, admin = await signed_in("servicer"), await signed_in("admin")

    page = await servicer.get(POOL)
    assert page.status_code == 200
    assert desk(page.text) == [mine]
    assert "怎么退货" in page.text  # the customer's first message of the session
    assert "已等 0 分钟" in page.text
    ours.rt.clock.advance(timedelta(minutes=7))  # the live list shows how long they have waited
    assert "已等 7 分钟" in (await servicer.get(f"{POOL}/list")).text
    assert sorted(desk((await admin.get(POOL)).text)) == sorted([mine, other])
    assert (await servicer.get(f"/console/conversations/{other}")).status_code == 403


async def test_the_servicer_takes_a_customer_and_wecom_hands_the_session_over(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    servicer = await signed_in("servicer")

    taken = await post(servicer, POOL, f"{POOL}/{conversation}/take")
    assert taken.status_code == 303 and taken.headers["location"].startswith(SESSIONS)
    await world.run_due()  # the delivery job calls WeCom's service_state/trans
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "zhangsan")
    assert desk((await servicer.get(POOL)).text) == []
    assert desk((await servicer.get(SESSIONS)).text) == [conversation]
    assert desk((await servicer.get(SESSIONS + "/list")).text) == [conversation]


async def test_an_admin_takes_for_the_servicer_they_choose(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    admin, servicer = await signed_in("admin"), await signed_in("servicer")

    answer = await post(admin, POOL, f"{POOL}/{conversation}/take", servicer_userid="lisi")
    assert answer.status_code == 303
    await world.run_due()
    assert (world.session()["state"], world.session()["servicer_userid"]) == (3, "lisi")
    assert desk((await admin.get(SESSIONS)).text) == [conversation]  # managers see everyone's
    assert desk((await servicer.get(SESSIONS)).text) == []  # not zhangsan's


async def test_the_pool_says_what_its_button_does_for_the_reader(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    # A servicer takes for themselves (接入); an admin, who serves no one, assigns (分配接入).
    await waiting_world(make_world)
    servicer, admin = await signed_in("servicer"), await signed_in("admin")
    mine = (await servicer.get(POOL)).text
    assert "点「接入」即由你接待该客户" in mine and ">接入</button>" in mine
    managed = (await admin.get(POOL)).text
    assert "选择接待人员后点「分配接入」，即由其接待该客户" in managed and ">分配接入</button>" in managed
    assert "即由你接待" not in managed


async def test_the_choice_of_whom_to_assign_says_who_is_not_receiving(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    # As the transfer choice does: an admin who picked a stopped servicer learnt it from a 409.
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    async with world.rt.db.write() as session:
        lisi = await session.scalar(select(Servicer).where(Servicer.userid == "lisi"))
        assert lisi is not None
        lisi.status = 1  # stopped receiving in the WeCom app
    admin = await signed_in("admin")
    for page in (POOL, f"{POOL}/list", f"/console/conversations/{conversation}"):
        choice = (await admin.get(page)).text.split('take-form"', 1)[1].split("</select>", 1)[0]
        assert '<option value="lisi">lisi（未在接待）</option>' in choice, page
        assert '<option value="zhangsan">zhangsan（0/10）</option>' in choice, page


async def test_a_take_that_loses_says_who_has_the_customer(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    world.servicer("take", "lisi")  # 李四 takes the customer in the WeCom app meanwhile
    await world.settle()
    servicer = await signed_in("servicer")
    answer = await post(servicer, f"/console/conversations/{conversation}", f"{POOL}/{conversation}/take")
    assert answer.status_code == 409
    assert "该客户已由 lisi 接待" in answer.text
    assert world.session()["servicer_userid"] == "lisi"


async def test_a_take_without_the_csrf_token_or_outside_the_servicers_accounts_changes_nothing(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    theirs = await second_account(world)
    servicer = await signed_in("servicer")
    ours, other = (await world.conversation()).id, (await theirs.conversation()).id

    assert (await servicer.post(f"{POOL}/{ours}/take", data={})).status_code == 403
    assert (await post(servicer, POOL, f"{POOL}/{other}/take")).status_code == 403
    await world.run_due()
    assert world.session()["state"] == 2 and theirs.session()["state"] == 2


async def test_an_admin_must_choose_whom_to_take_for(make_world: WorldFactory, signed_in: SignIn) -> None:
    world = await waiting_world(make_world)
    admin = await signed_in("admin")
    page = (await admin.get(POOL)).text
    assert 'option value="zhangsan"' in page and 'option value="lisi"' in page
    answer = await post(admin, POOL, f"{POOL}/{(await world.conversation()).id}/take", servicer_userid="")
    assert answer.status_code == 409 and "请选择接待人员" in answer.text
    await world.run_due()
    assert world.session()["state"] == 2


async def test_a_second_customer_queues_behind_the_first(make_world: WorldFactory, signed_in: SignIn) -> None:
    world = await waiting_world(make_world)
    later = another_customer(world, "小林")
    await customer_in_pool(later)
    servicer = await signed_in("servicer")
    assert desk((await servicer.get(POOL)).text) == [
        (await world.conversation()).id,
        (await later.conversation()).id,
    ]


async def test_the_transcript_page_says_why_the_customer_waits_in_the_pool(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    conversation = (await world.conversation()).id
    page = await (await signed_in("admin")).get(f"/console/conversations/{conversation}")
    assert page.status_code == 200
    section = page.text.split('id="routing-decisions"', 1)[1].split("</section>", 1)[0]
    assert "分配记录" in page.text and "进入排队池" in section  # the routing decision, explained
