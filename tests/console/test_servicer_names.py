"""Servicers by the names people know: wherever the console shows a servicer (the sessions
list, the transfer and take-for choices, the session bar, the transcript), it shows the display
name of the console user bound to the userid; a servicer without one shows the userid, and a
name two servicers share carries the userid too."""

from __future__ import annotations

from datetime import timedelta

import pytest

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
    assert '<option value="zhangsan">张三</option>' in pool  # take for…
    assert '<option value="wangwu">wangwu</option>' in pool  # no console user: the userid
    answer = await post(admin, POOL, f"{POOL}/{conversation}/take", servicer_userid="zhangsan")
    assert answer.status_code == 303
    await world.run_due()
    world.rt.clock.advance(timedelta(seconds=5))
    world.servicer("reply", "zhangsan", msgtype="text", text={"content": "您好，我来处理"})
    await world.settle()

    sessions = (await admin.get(SESSIONS)).text
    assert "<td>张三</td>" in sessions  # the 接待人员 column
    assert '<option value="lisi">李四</option>' in sessions  # transfer to…
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
    assert '<option value="zhangsan">张伟（zhangsan）</option>' in pool
    assert '<option value="lisi">张伟（lisi）</option>' in pool
