"""留言 through the API and the simulator: what a customer writes after asking for a human off
hours, or after a queue timeout, is listed for servicers, and a follow-up is closed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import api_client
from tests.reception.conftest import WorldFactory
from tests.reception.routing_world import api_for, full_pool

pytestmark = [pytest.mark.db, pytest.mark.e2e]


async def test_messages_left_off_hours_are_listed_for_servicers_and_closed_once(
    make_world: WorldFactory,
) -> None:
    evening = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday 20:00 Shanghai: closed
    world = await make_world(
        at=evening, settings={"reception": {"mode": "ai_first"}}, servicers=["alice"], kb=True
    )
    world.says("转人工")
    await world.settle()
    world.rt.clock.advance(timedelta(minutes=2))
    world.says("洗衣机漏水了，明天上午联系我")
    await world.settle()
    async with api_client(world.rt, token_name="lisi") as api:  # the servicer who closes it
        [left] = (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json()
        assert (left["reason"], left["status"], left["external_userid"]) == (
            "off_hours",
            "open",
            world.customer,
        )
        assert [m["text"] for m in left["messages"]] == ["转人工", "洗衣机漏水了，明天上午联系我"]
        closed = await api.post(f"/api/v1/follow-ups/{left['id']}/close", json={"note": "已回电"})
        assert closed.status_code == 200 and closed.json()["closed_by"] == "lisi"
        again = await api.post(f"/api/v1/follow-ups/{left['id']}/close", json={})
        assert again.status_code == 409 and "lisi" in again.json()["message"]
        assert (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json() == []


async def test_what_a_customer_writes_after_a_queue_timeout_is_left_for_servicers(
    make_world: WorldFactory,
) -> None:
    world, first = await full_pool(make_world)
    world.rt.clock.advance(timedelta(minutes=31))
    await world.run_due()
    assert first.session()["state"] == 4
    first.says("等了半天没人，我的订单 A123 还没发货")
    await world.settle()
    async with api_for(world) as api:
        [left] = (await api.get(f"/api/v1/accounts/{world.account.id}/follow-ups")).json()
    assert (left["reason"], left["external_userid"]) == ("queue_timeout", first.customer)
    assert [m["text"] for m in left["messages"]] == ["等了半天没人，我的订单 A123 还没发货"]
