"""Servicers by the names people know: wherever the console shows a servicer (the sessions
list, the transfer and take-for choices, the session bar, the transcript), it shows the display
name of the console user bound to the userid; a servicer without one shows the userid, and a
name two servicers share carries the userid too. A servicer without a console user goes by the
name an admin gave it on the account page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.accounts.servicers import list_servicers
from kefu.api import users
from kefu.runtime import Runtime
from tests.console.conftest import PASSWORD, SignIn
from tests.console.workbench_world import make_world, post, waiting_world
from tests.reception.conftest import WorldFactory

__all__ = ["make_world"]
pytestmark = [pytest.mark.db, pytest.mark.e2e]
POOL, SESSIONS, LIST = "/console/workbench/pool", "/console/workbench/sessions", "/console/conversations"


async def named(rt: Runtime, username: str, wecom_userid: str, display_name: str) -> None:
    async with rt.db.write() as session:
        await users.create_user(
            session,
            username=username,
            password=PASSWORD,
            role="servicer",
            wecom_userid=wecom_userid,
            display_name=display_name,
        )


async def test_servicers_are_shown_by_the_name_of_their_console_user(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world, servicers=("zhangsan", "lisi", "wangwu"))
    await named(world.rt, "zs", "zhangsan", "张三")
    await named(world.rt, "ls", "lisi", "李四")
    admin = await signed_in("admin")
    conversation = (await world.conversation()).id

    pool = (await admin.get(POOL)).text
    assert '<option value="zhangsan">张三（0/10）</option>' in pool  # take for…, with their load
    assert '<option value="wangwu">wangwu（0/10）</option>' in pool  # no console user: the userid
    answer = await post(admin, POOL, f"{POOL}/{conversation}/take", servicer_userid="zhangsan")
    assert answer.status_code == 303
    await world.run_due()
    world.rt.clock.advance(timedelta(seconds=5))
    world.servicer("reply", "zhangsan", msgtype="text", text={"content": "您好，我来处理"})
    await world.settle()

    sessions = (await admin.get(SESSIONS)).text
    assert "<td>张三</td>" in sessions  # the 接待人员 column
    assert '<option value="lisi">李四（0/10）</option>' in sessions  # transfer to…, with their load
    assert 'value="zhangsan"' not in sessions  # not to whoever has the session
    page = (await admin.get(f"{LIST}/{conversation}")).text
    assert "人工接待（张三）" in page
    assert "客服 · 张三" in page  # the servicer's message in the transcript
    assert "zhangsan" not in (await admin.get(LIST)).text  # 会话记录 names him too

    moved = await post(admin, SESSIONS, f"{LIST}/{conversation}/transfer", servicer_userid="lisi")
    assert moved.status_code == 303
    assert "已请求转接给 李四" in (await admin.get(moved.headers["location"])).text


async def test_a_name_two_servicers_share_carries_the_userid(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world, servicers=("zhangsan", "lisi"))
    await named(world.rt, "zs", "zhangsan", "张伟")
    await named(world.rt, "zw", "lisi", "张伟")
    admin = await signed_in("admin")

    pool = (await admin.get(POOL)).text
    assert '<option value="zhangsan">张伟（zhangsan）（0/10）</option>' in pool
    assert '<option value="lisi">张伟（lisi）（0/10）</option>' in pool


async def test_a_servicer_without_a_console_user_goes_by_the_name_the_admin_gives(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    """Named on the account page's 接待人员 form: the console user's name first, then the
    servicer's, then the userid; a name shared between the two kinds carries the userid."""
    world = await waiting_world(make_world, servicers=("zhangsan", "lisi", "wangwu"))
    await named(world.rt, "zs", "zhangsan", "张三")
    admin = await signed_in("admin")
    page = f"/console/accounts/{world.account.id}"

    for userid, name in (("lisi", "李四"), ("zhangsan", "老张")):
        answer = await post(admin, page, f"{page}/servicers", userid=userid, name=name, max_sessions="")
        assert answer.status_code == 303, answer.text
    async with world.rt.db.read() as session:
        listed = [(r.userid, r.name) for r in await list_servicers(session, world.account.id)]
    assert listed == [("zhangsan", "老张"), ("lisi", "李四"), ("wangwu", None)]  # each kept its place

    pool = (await admin.get(POOL)).text
    assert '<option value="zhangsan">张三（0/10）</option>' in pool  # his console user's name first
    assert '<option value="lisi">李四（0/10）</option>' in pool
    assert '<option value="wangwu">wangwu（0/10）</option>' in pool
    account_page = (await admin.get(page)).text
    assert '李四 <span class="muted">lisi</span>' in account_page

    too_long = await post(admin, page, f"{page}/servicers", userid="wangwu", name="王" * 65)
    assert too_long.status_code == 422 and 'data-error-for="servicer_name"' in too_long.text
    shared = await post(admin, page, f"{page}/servicers", userid="wangwu", name="张三")
    assert shared.status_code == 303
    pool = (await admin.get(POOL)).text
    assert '<option value="zhangsan">张三（zhangsan）（0/10）</option>' in pool
    assert '<option value="wangwu">张三（wangwu）（0/10）</option>' in pool


async def test_the_routing_record_names_the_servicer_in_the_readers_language(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    """分配记录 explains each decision by the servicer's name, in Chinese or in English as the
    reader chose, where it showed the line kept at decision time: Chinese, by userid."""
    world = await waiting_world(make_world, servicers=("zhangsan", "lisi"))
    await named(world.rt, "zs", "zhangsan", "张三")
    admin = await signed_in("admin")
    conversation = (await world.conversation()).id
    answer = await post(admin, POOL, f"{POOL}/{conversation}/take", servicer_userid="zhangsan")
    assert answer.status_code == 303
    await world.run_due()

    def routing(page: str) -> str:
        return page.split('id="routing-decisions"', 1)[1].split("</section>", 1)[0]

    chinese = routing((await admin.get(f"{LIST}/{conversation}")).text)
    assert "手动接入 → 张三（当前 0 个会话）" in chinese and "zhangsan" not in chinese
    admin.cookies.set("kefu_lang", "en")
    english = routing((await admin.get(f"{LIST}/{conversation}")).text)
    assert "taken by hand → 张三 (sessions now: 0)" in english
    assert "进入排队池" not in english and "the queue pool" in english
