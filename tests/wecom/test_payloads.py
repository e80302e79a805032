"""sync_msg items: every documented sample parsed; unknown ones kept raw; never a failure."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kefu.wecom import payloads as p
from kefu.wecom.client import WeComClient
from kefu.wecom.payloads import SyncItem
from tests.wecom.scripted_server import Reply, ScriptedWeCom

PAGE = json.loads((Path(__file__).parent / "fixtures" / "sync_msg_page.json").read_text())
KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
USER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"


@pytest.fixture
async def items(client: WeComClient, wecom: ScriptedWeCom) -> dict[str, SyncItem]:
    """The fixture page, served over HTTP and parsed by the client, by msgid."""
    wecom.script("kf/sync_msg", Reply(PAGE))
    page = await client.sync_msg(open_kfid=KFID, cursor=None, token="ENCtoken")
    assert page.next_cursor == "4gw7MepFLfgF2VC5npN" and page.has_more is True
    assert len(page.items) == len(PAGE["msg_list"])  # nothing dropped
    return {item.msgid: item for item in page.items}


async def test_every_item_keeps_its_exact_json(items: dict[str, SyncItem]) -> None:
    assert [item.raw for item in items.values()] == PAGE["msg_list"]


async def test_text_with_menu_id(items: dict[str, SyncItem]) -> None:
    item = items["from_msgid_4622416642169452483"]
    assert isinstance(item.content, p.TextContent)
    assert (item.content.content, item.content.menu_id) == ("hello", "101")
    assert (item.open_kfid, item.external_userid, item.origin, item.send_time) == (KFID, USER, 3, 1615478585)
    assert item.servicer_userid == "Zhangsan" and item.event is None and not item.is_event
    assert item.sent_at.isoformat() == "2021-03-11T16:03:05+00:00"
    plain = items["m_text_plain"].content
    assert isinstance(plain, p.TextContent) and plain.menu_id is None and plain.content == "你好"


async def test_media_messages(items: dict[str, SyncItem]) -> None:
    for msgid, model in [
        ("m_image", p.ImageContent),
        ("m_voice", p.VoiceContent),
        ("m_video", p.VideoContent),
        ("m_file", p.FileContent),
    ]:
        content = items[msgid].content
        assert isinstance(content, model) and content.media_id, msgid


async def test_structured_messages(items: dict[str, SyncItem]) -> None:
    location = items["m_location"].content
    assert isinstance(location, p.LocationContent)
    assert location.latitude == pytest.approx(23.1060218811035) and location.name.startswith("广州国际媒体港")
    link = items["m_link"].content
    assert isinstance(link, p.LinkContent) and link.pic_url == "PIC_URL"
    card = items["m_business_card"].content
    assert isinstance(card, p.BusinessCardContent) and card.userid == "USERID"
    mini = items["m_miniprogram"].content
    assert isinstance(mini, p.MiniprogramContent) and mini.appid == "wx123123123123123"
    menu = items["m_msgmenu"].content
    assert isinstance(menu, p.MenuContent)
    assert [i["type"] for i in menu.items] == ["click", "click", "view", "miniprogram", "text"]
    assert menu.tail_content == "欢迎再次光临" and items["m_msgmenu"].servicer_userid == "zhangsan"


async def test_channels_messages(items: dict[str, SyncItem]) -> None:
    product = items["m_channels_shop_product"].content
    assert isinstance(product, p.ChannelsShopProductContent) and product.sales_price == 0
    order = items["m_channels_shop_order"].content
    assert isinstance(order, p.ChannelsShopOrderContent) and order.order_id == "ORDER_ID"
    channels = items["m_channels"].content
    assert isinstance(channels, p.ChannelsContent) and channels.sub_type == 1
    merged = items["m_merged_msg"].content
    assert isinstance(merged, p.MergedMsgContent) and merged.title == "群聊的聊天记录"
    assert merged.item[0].message() == {"msgtype": "text", "text": {"content": "消息内容"}}


async def test_unknown_msgtype_is_kept(items: dict[str, SyncItem]) -> None:
    item = items["m_note"]
    assert item.msgtype == "note"
    assert isinstance(item.content, p.UnknownContent) and item.content.data == {"anything": ["kept", 1]}


async def test_events(items: dict[str, SyncItem]) -> None:
    enter = items["e_enter_session"]
    assert enter.is_event and enter.origin == 4 and enter.content is None
    # Events carry the account and customer inside `event`.
    assert (enter.open_kfid, enter.external_userid) == (KFID, USER)
    assert isinstance(enter.event, p.EnterSessionEvent)
    assert (enter.event.scene, enter.event.scene_param, enter.event.welcome_code) == ("123", "abc", "aaaaaa")
    assert enter.event.wechat_channels == p.WechatChannels(nickname="视频号名称", scene=1)

    fail = items["e_msg_send_fail"].event
    assert isinstance(fail, p.MsgSendFailEvent) and (fail.fail_msgid, fail.fail_type) == ("FAIL_MSGID", 4)

    status = items["e_servicer_status_change"]
    assert isinstance(status.event, p.ServicerStatusChangeEvent)
    assert (status.event.servicer_userid, status.event.status, status.event.stop_type) == ("zhangsan", 2, 1)
    assert status.open_kfid == KFID and status.external_userid == ""

    session = items["e_session_status_change"].event
    assert isinstance(session, p.SessionStatusChangeEvent)
    assert (session.change_type, session.new_servicer_userid, session.msg_code) == (1, "zhangsan", "MSG_CODE")
    assert session.old_servicer_userid is None

    user_recall = items["e_user_recall_msg"].event
    assert isinstance(user_recall, p.UserRecallMsgEvent) and user_recall.recall_msgid == "RECALL_MSGID"
    servicer_recall = items["e_servicer_recall_msg"].event
    assert isinstance(servicer_recall, p.ServicerRecallMsgEvent)
    assert servicer_recall.servicer_userid == "SERVICER_USERID"
    reject = items["e_reject_customer_msg_switch_change"].event
    assert isinstance(reject, p.RejectCustomerMsgSwitchChangeEvent) and reject.reject_switch == 1


async def test_unknown_event_is_kept(items: dict[str, SyncItem]) -> None:
    item = items["e_future_event"]
    assert isinstance(item.event, p.UnknownEvent)
    assert item.event.event_type == "some_future_event" and item.event.data["detail"] == {"x": 1}
    assert (item.open_kfid, item.external_userid) == (KFID, USER)


def item_of(msgtype: str, body: Any, **extra: Any) -> dict[str, Any]:
    return {"msgid": "m1", "send_time": 1, "origin": 3, "msgtype": msgtype, msgtype: body, **extra}


@pytest.mark.parametrize(
    "raw",
    [
        item_of("image", {}),  # a known type without its required field
        item_of("location", {"latitude": "north"}),
        item_of("text", "not an object"),
        {"msgtype": "event", "event": {"event_type": "msg_send_fail"}, "msgid": "m1"},
        {"msgtype": "event", "msgid": "m1"},
        {"msgid": "m1"},
    ],
)
def test_malformed_items_are_kept_not_failed(raw: dict[str, Any]) -> None:
    item = SyncItem.from_raw(raw)
    assert item.raw == raw and item.msgid == "m1"
    assert isinstance(item.content or item.event, p.UnknownContent | p.UnknownEvent)


def test_extra_fields_are_kept_on_known_types() -> None:
    item = SyncItem.from_raw(item_of("text", {"content": "hi", "new_field": 7}))
    assert isinstance(item.content, p.TextContent) and item.content.model_extra == {"new_field": 7}


def test_an_item_without_msgid_gets_a_stable_one() -> None:
    raw = {
        "send_time": 5,
        "origin": 4,
        "msgtype": "event",
        "event": {"event_type": "user_recall_msg", "recall_msgid": "x"},
    }
    first, again = SyncItem.from_raw(raw), SyncItem.from_raw(copy.deepcopy(raw))
    assert first.msgid == again.msgid and first.msgid.startswith("nomsgid_") and len(first.msgid) <= 64
    other = SyncItem.from_raw({**raw, "send_time": 6})
    assert other.msgid != first.msgid
