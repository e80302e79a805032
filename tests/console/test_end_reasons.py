"""How sessions ended, as the reports tell it: ended by their servicer in the console, by an
admin in the console, through the API, or by the servicer in the WeCom app are four different
things a team reads apart — each recorded through the real path (console forms, the REST API,
the simulator) and shown on the report page, in its CSV and in `kefu report`'s summary."""

from __future__ import annotations

import pytest

from kefu.reports.service import report
from tests.console.conftest import SignIn
from tests.console.workbench_world import another_customer, customer_in_pool, make_world, post, waiting_world
from tests.factories import api_client
from tests.reception.conftest import World, WorldFactory

__all__ = ["make_world"]
pytestmark = [pytest.mark.db, pytest.mark.e2e]
POOL, SESSIONS, LIST = "/console/workbench/pool", "/console/workbench/sessions", "/console/conversations"


async def take(world: World, signed_in: SignIn) -> int:
    """zhangsan (the console's servicer login) takes the customer waiting in the pool."""
    servicer = await signed_in("servicer")
    conversation = (await world.conversation()).id
    assert (await post(servicer, POOL, f"{POOL}/{conversation}/take")).status_code == 303
    await world.run_due()
    assert world.session()["state"] == 3
    return conversation


async def test_who_ended_a_session_is_told_apart_in_the_reports(
    make_world: WorldFactory, signed_in: SignIn
) -> None:
    world = await waiting_world(make_world)
    customers = [world]
    for name in ("乙", "丙", "丁"):
        customers.append(another_customer(world, name))
        await customer_in_pool(customers[-1])
    by_servicer, by_admin, by_api, _in_app = [await take(c, signed_in) for c in customers]

    servicer, admin = await signed_in("servicer"), await signed_in("admin")
    assert (await post(servicer, SESSIONS, f"{LIST}/{by_servicer}/end")).status_code == 303
    assert (await post(admin, SESSIONS, f"{LIST}/{by_admin}/end")).status_code == 303
    async with api_client(world.rt) as api:
        assert (await api.post(f"/api/v1/conversations/{by_api}/end")).status_code == 202
    customers[3].servicer("end", "zhangsan")
    await world.settle()
    assert [c.session()["state"] for c in customers] == [4, 4, 4, 4]

    async with world.rt.db.read() as session:
        summary = await report(session, first_day=None, last_day=None, account_id=None, clock=world.rt.clock)
    assert summary.end_reasons == {
        "servicer": 1,
        "servicer_in_console": 1,
        "admin_in_console": 1,
        "api": 1,
    }
    page = (await admin.get("/console/reports")).text
    for words in ("客服在企业微信中结束", "客服在控制台结束", "管理员或主管在控制台结束", "通过 API 结束"):
        assert words in page
    csv = (await admin.get("/console/reports/export.csv")).content.decode("utf-8-sig").splitlines()
    assert "end_reason,admin_in_console,1,会话结束方式：管理员或主管在控制台结束" in csv
    assert "end_reason,servicer_in_console,1,会话结束方式：客服在控制台结束" in csv
    admin.cookies.set("kefu_lang", "en")
    english = (await admin.get("/console/reports")).text
    for words in ("Ended by the servicer in the console", "Ended by an admin or supervisor in the console"):
        assert words in english
