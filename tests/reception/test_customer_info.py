"""`crm.fetch_customer` against the simulator's kf/customer/batchget: a customer WeCom knows is
kept with nickname, avatar and unionid; one it does not know (or no longer: 48 hours) is kept
without them and stays unbound, and the job does not fail."""

from __future__ import annotations

import pytest

from kefu.crm.identity import find_wechat_customer
from kefu.crm.tasks import fetch_customer
from tests.reception.conftest import WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def test_known_and_unknown_customers(make_world: WorldFactory) -> None:
    world = await make_world(settings={"reception": {"mode": "human_only"}}, servicers=["alice"])
    world.says("你好")  # active: batchget answers for them
    await world.settle()
    await fetch_customer(world.rt, account_id=world.account.id, external_userid="wmNobodyKnows")
    connection_id = world.account.connection_id
    async with world.rt.db.read() as session:
        known = await find_wechat_customer(session, connection_id, world.customer)
        unknown = await find_wechat_customer(session, connection_id, "wmNobodyKnows")
    assert known is not None and known.fetched_at is not None
    assert known.nickname and known.unionid and known.contact_id is None  # no contact has that unionid
    assert unknown is not None and (unknown.fetched_at, unknown.nickname, unknown.unionid) == (None, "", None)
