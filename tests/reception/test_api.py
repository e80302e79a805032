"""GET /api/v1/conversations and /api/v1/conversations/{id} over the real ASGI app: the transcript
keeps customer and Kefu messages in order, a recall, a send WeCom failed after accepting it
(msg_send_fail), a send that failed for good, and the state changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.factories import api_client
from tests.reception.conftest import World, WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]


@pytest.fixture
async def world(make_world: WorldFactory) -> World:
    return await make_world(kb=True, servicers=["alice"])


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.rt, token_name="tests") as client:
        yield client


async def test_the_transcript_shows_messages_recalls_failures_and_state_changes(
    world: World, api: httpx.AsyncClient
) -> None:
    question = world.says("怎么退货")
    await world.settle()
    world.rt.clock.advance(10)  # time passes between the customer's moves
    world.sim.control(
        "POST",
        f"customers/{world.customer}/recall",
        {"open_kfid": world.open_kfid, "msgid": question["msgid"]},
    )
    world.servicer("reject", "alice", reject=True)  # WeCom accepts Kefu's next send, then fails it
    world.rt.clock.advance(10)
    world.says("保修多久")
    await world.settle()
    world.rt.clock.advance(10)
    await world.settle()  # the msg_send_fail event comes in the stream afterwards

    world.rt.clock.advance(10)
    world.sim.control("POST", "faults", {"endpoint": "kf/send_msg", "errcode": 45009, "count": 5})
    world.says("如何退货")
    await world.settle()
    for _ in range(5):  # each retry waits its backoff; the clock is moved, never slept
        world.rt.clock.advance(120)
        await world.run_due()

    listed = (await api.get("/api/v1/conversations")).json()
    assert [(c["external_userid"], c["wecom_state"], c["owner"]) for c in listed] == [
        (world.customer, 1, "ai")
    ]
    detail = (await api.get(f"/api/v1/conversations/{listed[0]['id']}")).json()
    assert detail["state"]["wecom_state"] == 1
    lines = [
        (i["type"], i["sender"] or i["kind"], i["text"], i["recalled"], i["send_fail_type"], i["status"])
        for i in detail["transcript"]
        if i["type"] in ("message", "action")
    ]
    answer = "收到商品 7 天内可在订单页申请退货，运费由我们承担。 [转人工]"
    assert lines == [
        ("message", "customer", "怎么退货", True, None, None),
        ("message", "kefu", answer, False, None, None),
        ("message", "event", "user_recall_msg", False, None, None),
        ("message", "event", "reject_customer_msg_switch_change", False, None, None),
        ("message", "customer", "保修多久", False, None, None),
        ("message", "kefu", "整机保修一年，主要部件保修三年。 [转人工]", False, 10, None),
        ("message", "event", "msg_send_fail", False, None, None),
        ("message", "customer", "如何退货", False, None, None),
        ("action", "send", None, False, None, "failed"),
    ]
    failed = detail["transcript"][-1]
    assert failed["errcode"] == 45009 and "45009" in failed["error"]
    timeline = [i["kind"] for i in detail["transcript"] if i["type"] == "timeline"]
    assert timeline[:2] == ["session_started", "state_changed"] and "send_failed" in timeline

    missing = await api.get("/api/v1/conversations/999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (await api.get("/api/v1/conversations", headers={"Authorization": ""})).status_code == 401
