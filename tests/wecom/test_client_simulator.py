"""The client against the project's WeCom simulator (a faithful server, docs/simulator.md), over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from kefu.clock import Clock
from kefu.http_client import HttpClient
from kefu.simulator import SimulatorServer
from kefu.wecom import payloads as p
from kefu.wecom.client import WeComClient
from kefu.wecom.errors import SendOutcomeUnknown, WeComError
from kefu.wecom.outbound import MenuClick, MenuOut, TextOut
from kefu.wecom.tokens import MemoryTokenCache

pytestmark = pytest.mark.e2e


@dataclass
class World:
    sim: SimulatorServer
    client: WeComClient
    corp: dict[str, Any]
    open_kfid: str
    customer: str

    def say(self, text: str) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": text}}
        return self.sim.control("POST", f"customers/{self.customer}/messages", body)["item"]  # type: ignore[no-any-return]

    def sends(self) -> list[dict[str, Any]]:
        return self.sim.control("GET", "sends", open_kfid=self.open_kfid)["sends"]  # type: ignore[no-any-return]

    def inbox(self) -> list[dict[str, Any]]:
        return self.sim.control("GET", f"customers/{self.customer}/inbox")["messages"]  # type: ignore[no-any-return]

    def fault(self, **spec: Any) -> None:
        self.sim.control("POST", "faults", spec)

    def session(self) -> dict[str, Any]:
        return self.sim.control("GET", f"accounts/{self.open_kfid}/sessions/{self.customer}")  # type: ignore[no-any-return]


@pytest.fixture
async def world(simulator: SimulatorServer, clock: Clock) -> AsyncIterator[World]:
    corp = simulator.control("POST", "corps", {})
    open_kfid = simulator.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "咨询客服"})[
        "open_kfid"
    ]
    simulator.control("POST", f"accounts/{open_kfid}/servicers", {"userids": ["zhangsan", "lisi"]})
    customer = simulator.control("POST", f"corps/{corp['corpid']}/customers", {"nickname": "张三"})[
        "external_userid"
    ]

    async def no_wait(_seconds: float) -> None:
        return None

    async with HttpClient(timeout_s=10.0) as http:
        client = WeComClient(
            base_url=simulator.url,
            corp_id=corp["corpid"],
            secret=corp["secret"],
            http=http,
            token_cache=MemoryTokenCache(),
            clock=clock,
            sleep=no_wait,
        )
        yield World(simulator, client, corp, open_kfid, customer)


async def pull_all(client: WeComClient, open_kfid: str) -> list[p.SyncItem]:
    items: list[p.SyncItem] = []
    cursor: str | None = None
    while True:
        page = await client.sync_msg(open_kfid=open_kfid, cursor=cursor, token=None)
        items += page.items
        cursor = page.next_cursor
        if not page.has_more:
            return items


async def test_pull_welcome_and_reply(world: World) -> None:
    world.sim.control(
        "POST", f"customers/{world.customer}/enter", {"open_kfid": world.open_kfid, "scene": "s1"}
    )
    world.say("你好")
    items = await pull_all(world.client, world.open_kfid)
    enter, text = items[-2:]
    assert isinstance(enter.event, p.EnterSessionEvent) and enter.event.scene == "s1"
    assert enter.external_userid == world.customer and enter.open_kfid == world.open_kfid
    assert isinstance(text.content, p.TextContent) and text.content.content == "你好" and text.origin == 3

    assert enter.event.welcome_code is not None  # the customer wrote nothing before entering
    await world.client.send_msg_on_event(
        code=enter.event.welcome_code,
        msgid="welcome_1",
        message=MenuOut(head_content="欢迎", items=[MenuClick(id="1", content="人工")]),
    )
    msgid = await world.client.send_msg(
        touser=world.customer, open_kfid=world.open_kfid, msgid="reply_1", message=TextOut(content="您好")
    )
    assert msgid == "reply_1"
    assert [m["msgid"] for m in world.inbox()] == ["welcome_1", "reply_1"]


async def test_token_invalidated_early_is_refreshed_once(world: World) -> None:
    await world.client.account_list()
    world.sim.control("POST", f"corps/{world.corp['corpid']}/tokens/invalidate", {"errcode": 42001})
    accounts = await world.client.account_list_all()
    assert [a.open_kfid for a in accounts] == [world.open_kfid]


async def test_wrong_secret_surfaces_40001(world: World, clock: Clock) -> None:
    async with HttpClient(timeout_s=10.0) as http:
        client = WeComClient(
            base_url=world.sim.url,
            corp_id=world.corp["corpid"],
            secret="wrong",
            http=http,
            token_cache=MemoryTokenCache(),
            clock=clock,
        )
        with pytest.raises(WeComError) as caught:
            await client.account_list()
    assert caught.value.errcode == 40001 and caught.value.hint


async def test_lost_send_is_never_delivered_twice(world: World) -> None:
    world.say("在吗")
    world.fault(endpoint="kf/send_msg", drop_response=True, count=1)
    # The simulator refuses the reused msgid on the retry (40058): the outcome is "possibly delivered".
    with pytest.raises(SendOutcomeUnknown) as caught:
        await world.client.send_msg(
            touser=world.customer,
            open_kfid=world.open_kfid,
            msgid="out_lost_1",
            message=TextOut(content="在的"),
        )
    assert caught.value.msgid == "out_lost_1"
    sends = world.sends()
    assert {s["requested_msgid"] for s in sends} == {"out_lost_1"}  # retried only under the same msgid
    assert len(sends) == 2
    assert [m["msgid"] for m in world.inbox()] == ["out_lost_1"]  # delivered exactly once


async def test_lost_trans_is_settled_by_get(world: World) -> None:
    world.say("转人工")
    world.fault(endpoint="kf/service_state/trans", drop_response=True, count=1)
    result = await world.client.service_state_trans(
        open_kfid=world.open_kfid, external_userid=world.customer, service_state=3, servicer_userid="zhangsan"
    )
    assert result.settled_by_get is True
    state = await world.client.service_state_get(open_kfid=world.open_kfid, external_userid=world.customer)
    assert state == p.ServiceState(state=3, servicer_userid="zhangsan")


async def test_busy_reads_are_retried(world: World) -> None:
    world.fault(endpoint="kf/servicer/list", errcodes=[-1], count=2)
    servicers = await world.client.servicer_list(world.open_kfid)
    assert sorted(s.userid or "" for s in servicers) == ["lisi", "zhangsan"]
    assert all(s.is_receiving for s in servicers)


async def test_accounts_contact_links_customers_and_media(world: World) -> None:
    url = await world.client.add_contact_way(world.open_kfid, scene="ad_1")
    assert url.startswith("https://")
    world.say("hi")
    batch = await world.client.customer_batchget([world.customer, "wmunknown"])
    assert [c.nickname for c in batch.customers] == ["张三"]
    assert batch.invalid_external_userids == ["wmunknown"]

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    media_id = await world.client.media_upload(
        media_type="image", filename="头像.png", content=png, content_type="image/png"
    )
    media = await world.client.media_get(media_id)
    assert media.content == png and media.content_type.startswith("image/png")
    with pytest.raises(WeComError) as caught:
        await world.client.media_get("not-a-media-id")
    assert caught.value.errcode == 40007

    new_kfid = await world.client.account_add("售后", media_id)
    await world.client.account_update(new_kfid, name="售后服务")
    names = {a.open_kfid: a.name for a in await world.client.account_list_all()}
    assert names[new_kfid] == "售后服务"
    await world.client.account_del(new_kfid)
    assert new_kfid not in {a.open_kfid for a in await world.client.account_list_all()}
