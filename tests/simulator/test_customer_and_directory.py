"""§11.10 the customer side (test hooks) and §11.11 accounts, contact links, servicers,
customers, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import Kf, assert_error
from tests.simulator.test_sending import upload


def test_enter_via_contact_link_echoes_scene_and_param(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.10: enter via the add_contact_way URL (+ &scene_param=) → enter_session with both echoed."""
    way = kf.post("kf/add_contact_way", {"open_kfid": kf.open_kfid, "scene": "spring_sale-1"})
    assert way["errcode"] == 0 and way["url"].startswith("https://work.weixin.qq.com/kf/")
    body = {"url": way["url"] + "&scene_param=order%3D42"}
    event = simulator.control("POST", f"customers/{kf.customer}/enter", body)["item"]["event"]
    assert event["event_type"] == "enter_session" and event["open_kfid"] == kf.open_kfid
    assert (event["scene"], event["scene_param"]) == ("spring_sale-1", "order%3D42")
    assert event["welcome_code"]


@pytest.mark.parametrize("scene", ["x" * 33, "has space", "中文"])
def test_contact_way_scene_rules(kf: Kf, scene: str) -> None:
    """§8.2: scene ≤ 32 bytes of [0-9a-zA-Z_-] (40058 otherwise)."""
    assert_error(kf.post("kf/add_contact_way", {"open_kfid": kf.open_kfid, "scene": scene}), 40058)


def test_wechat_channels_context(kf: Kf) -> None:
    """§4.1: entering from WeChat Channels carries wechat_channels."""
    channels = {"nickname": "视频号名称", "scene": 1}
    assert kf.enter(wechat_channels=channels)["event"]["wechat_channels"] == channels


def test_customer_writes_every_type(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.10: the customer may write any §3.5 type; media get a downloadable media_id."""
    bodies = {
        "text": {"content": "你好"},
        "image": {},
        "voice": {},
        "video": {},
        "file": {"filename": "报价.pdf", "content_type": "application/pdf", "data_base64": "JVBERi0xLjQK"},
        "location": {"latitude": 23.1, "longitude": 113.3, "name": "广州", "address": "海珠区"},
        "link": {"title": "T", "desc": "D", "url": "https://a.cn", "pic_url": "https://a.cn/p.png"},
        "business_card": {"userid": "zhangsan"},
        "miniprogram": {"title": "t", "appid": "wx1", "pagepath": "p", "thumb_media_id": "m"},
        "channels_shop_product": {
            "product_id": "P",
            "head_img": "u",
            "title": "t",
            "sales_price": 100,
            "shop_nickname": "s",
            "shop_head_img": "u",
        },
        "merged_msg": {"title": "聊天记录", "item": []},
        "channels": {"sub_type": 1, "nickname": "n", "title": "t"},
    }
    for msgtype, body in bodies.items():
        request = {"open_kfid": kf.open_kfid, "msgtype": msgtype, msgtype: body}
        simulator.control("POST", f"customers/{kf.customer}/messages", request)
    items = kf.sync()["msg_list"]
    assert [i["msgtype"] for i in items] == list(bodies)
    assert all(i["origin"] == 3 for i in items)
    for item in items:
        if item["msgtype"] in ("image", "voice", "video", "file"):
            got = kf.http.get(
                "/cgi-bin/media/get", params={"access_token": kf.token, **item[item["msgtype"]]}
            )
            assert got.headers["content-type"] != "application/json" and len(got.content) > 5


def test_click_menu_item_sends_text_with_menu_id(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.10: clicking a click item → customer text with menu_id, content = the item's label."""
    kf.say("hi")
    menu = {
        "list": [
            {"type": "click", "click": {"id": "101", "content": "满意"}},
            {"type": "view", "view": {"url": "https://a.cn", "content": "看看"}},
        ]
    }
    request = {"touser": kf.customer, "open_kfid": kf.open_kfid, "msgtype": "msgmenu", "msgmenu": menu}
    msgid = kf.post("kf/send_msg", request)["msgid"]
    body = {"open_kfid": kf.open_kfid, "menu_msgid": msgid, "item_id": "101"}
    item = simulator.control("POST", f"customers/{kf.customer}/click", body)["item"]
    assert item["origin"] == 3 and item["text"] == {"content": "满意", "menu_id": "101"}
    with pytest.raises(httpx.HTTPStatusError):
        simulator.control("POST", f"customers/{kf.customer}/click", {**body, "item_id": "999"})


def test_click_counts_as_customer_message(kf: Kf, simulator: SimulatorServer) -> None:
    """§5.4: a click is a customer text, so it reopens an ended session (4 → 0)."""
    kf.say("hi")
    menu = {"list": [{"type": "click", "click": {"id": "1", "content": "好"}}]}
    msgid = kf.post(
        "kf/send_msg",
        {"touser": kf.customer, "open_kfid": kf.open_kfid, "msgtype": "msgmenu", "msgmenu": menu},
    )["msgid"]
    kf.trans(4)
    simulator.control(
        "POST",
        f"customers/{kf.customer}/click",
        {"open_kfid": kf.open_kfid, "menu_msgid": msgid, "item_id": "1"},
    )
    assert kf.session()["state"] == 0


def test_customer_recall(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.10: recall → user_recall_msg with recall_msgid."""
    msgid = kf.say("oops")["msgid"]
    item = simulator.control(
        "POST", f"customers/{kf.customer}/recall", {"open_kfid": kf.open_kfid, "msgid": msgid}
    )
    assert item["item"]["event"] == {
        "event_type": "user_recall_msg",
        "open_kfid": kf.open_kfid,
        "external_userid": kf.customer,
        "recall_msgid": msgid,
    }


def test_state_3_customer_messages_still_flow(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§11.10: in state 3 customer messages still enter the stream and fire callbacks; API send refused."""
    receiver = receiver_factory(kf.corp)
    kf.say("hi")
    kf.trans(3, "zhangsan")
    kf.say("still here")
    simulator.flush_callbacks()
    assert len(receiver.posts) == 2
    assert [m["text"]["content"] for m in kf.sync()["msg_list"]] == ["hi", "still here"]
    assert_error(kf.send_text(), 95018)


# -- §11.11 accounts, servicers, customers ----------------------------------------------


def test_account_add_update_list_del(kf: Kf) -> None:
    """§11.11: account/add (name ≤ 16, avatar media), update, list paging (limit 1–100), del."""
    avatar = upload(kf)
    added = [
        kf.post("kf/account/add", {"name": f"客服{i}", "media_id": avatar})["open_kfid"] for i in range(3)
    ]
    assert all(a.startswith("wk") for a in added)
    page1 = kf.post("kf/account/list", {"offset": 0, "limit": 2})["account_list"]
    page2 = kf.post("kf/account/list", {"offset": 2, "limit": 2})["account_list"]
    assert [a["open_kfid"] for a in page1 + page2] == [kf.open_kfid, *added]
    assert set(page1[0]) == {"open_kfid", "name", "avatar", "manage_privilege"}
    assert kf.post("kf/account/update", {"open_kfid": added[0], "name": "售后"})["errcode"] == 0
    assert kf.post("kf/account/list", {"offset": 1, "limit": 1})["account_list"][0]["name"] == "售后"
    assert kf.post("kf/account/del", {"open_kfid": added[0]})["errcode"] == 0
    assert_error(kf.post("kf/account/del", {"open_kfid": added[0]}), 95004)
    for bad in ({"offset": 0, "limit": 0}, {"offset": 0, "limit": 101}, {"offset": -1}):
        assert_error(kf.post("kf/account/list", bad), 40058)


def test_account_add_errors(kf: Kf) -> None:
    """§8.1: bad name 95006 (empty or > 16 chars), bad avatar media 40007; last account undeletable 95005."""
    avatar = upload(kf)
    assert_error(kf.post("kf/account/add", {"name": "长" * 17, "media_id": avatar}), 95006)
    assert_error(kf.post("kf/account/add", {"name": "", "media_id": avatar}), 95006)
    assert_error(kf.post("kf/account/add", {"name": "ok", "media_id": "nope"}), 40007)
    assert_error(kf.post("kf/account/del", {"open_kfid": kf.open_kfid}), 95005)


def test_unauthorized_account_and_auth_change_callback(
    kf: Kf, simulator: SimulatorServer, receiver_factory
) -> None:
    """§2.5: withdrawing the app's right → kf_account_auth_change callback; manage_privilege false."""
    receiver = receiver_factory(kf.corp)
    for authorized in (False, True, False):
        simulator.control("PUT", f"accounts/{kf.open_kfid}/authorization", {"authorized": authorized})
        # Callbacks go out from a pool of threads, in no promised order (nor does WeCom promise
        # one): deliver each before the next change, so the order below is the order of changes.
        simulator.flush_callbacks()
    events = [
        (p.field("Event"), p.field("AuthAddOpenKfId"), p.field("AuthDelOpenKfId")) for p in receiver.posts
    ]
    assert events == [
        ("kf_account_auth_change", "", kf.open_kfid),
        ("kf_account_auth_change", kf.open_kfid, ""),
        ("kf_account_auth_change", "", kf.open_kfid),
    ]
    assert receiver.posts[0].field("FromUserName") == "sys"
    assert kf.post("kf/account/list", {})["account_list"][0]["manage_privilege"] is False
    assert_error(kf.sync(), 48002)


def test_servicer_add_del_result_list(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.11: per-item result_list with "success", "ignored" (no-op) and per-item errcodes."""
    simulator.control("POST", f"corps/{kf.corpid}/members", {"userid": "wangwu", "department_ids": [2]})
    answer = kf.post(
        "kf/servicer/add",
        {
            "open_kfid": kf.open_kfid,
            "userid_list": ["wangwu", "zhangsan", "ghost"],
            "department_id_list": [2, 99],
        },
    )
    assert answer["errcode"] == 0
    assert [
        (r.get("userid", r.get("department_id")), r["errcode"], r["errmsg"]) for r in answer["result_list"]
    ] == [
        ("wangwu", 0, "success"),
        ("zhangsan", 0, "ignored"),
        ("ghost", 60111, "userid not found"),
        (2, 0, "success"),
        (99, 60123, "invalid party id"),
    ]
    listing = kf.get("kf/servicer/list", open_kfid=kf.open_kfid)["servicer_list"]
    assert listing[-2:] == [{"userid": "wangwu", "status": 0}, {"department_id": 2}]
    gone = kf.post("kf/servicer/del", {"open_kfid": kf.open_kfid, "userid_list": ["wangwu", "wangwu"]})
    assert [r["errmsg"] for r in gone["result_list"]] == ["success", "ignored"]
    assert_error(kf.post("kf/servicer/add", {"open_kfid": kf.open_kfid}), 40058)
    assert_error(kf.post("kf/servicer/add", {"open_kfid": kf.open_kfid, "userid_list": ["a"] * 101}), 40058)


def test_servicer_list_is_get_with_query(kf: Kf) -> None:
    """§11.11: servicer/list is GET ?open_kfid=; POST → 40058; missing open_kfid → 40058."""
    assert kf.get("kf/servicer/list", open_kfid=kf.open_kfid)["errcode"] == 0
    assert_error(kf.post("kf/servicer/list", {"open_kfid": kf.open_kfid}), 40058)
    assert_error(kf.get("kf/servicer/list"), 40058)


def test_customer_batchget(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.11: recent customers resolve, others go to invalid_external_userid; context on request."""
    kf.enter(scene="s1", scene_param="p")
    stranger = kf.new_customer()  # never consulted
    answer = kf.post(
        "kf/customer/batchget",
        {"external_userid_list": [kf.customer, stranger, "zhangsan"], "need_enter_session_context": 1},
    )
    [customer] = answer["customer_list"]
    assert customer["external_userid"] == kf.customer
    assert set(customer) >= {"nickname", "avatar", "gender", "unionid", "enter_session_context"}
    assert customer["enter_session_context"] == {"scene": "s1", "scene_param": "p"}
    assert answer["invalid_external_userid"] == [stranger, "zhangsan"]
    plain = kf.post("kf/customer/batchget", {"external_userid_list": [kf.customer]})["customer_list"][0]
    assert "enter_session_context" not in plain
    simulator.clock.advance(48 * 3600)
    late = kf.post("kf/customer/batchget", {"external_userid_list": [kf.customer]})
    assert late["customer_list"] == [] and late["invalid_external_userid"] == [kf.customer]
    assert_error(kf.post("kf/customer/batchget", {"external_userid_list": []}), 40058)
    assert_error(kf.post("kf/customer/batchget", {"external_userid_list": ["x"] * 101}), 40058)


def test_corp_qualification(kf: Kf) -> None:
    """§8.8: get_corp_qualification answers wechat_channels_binding."""
    assert kf.get("kf/get_corp_qualification") == {
        "errcode": 0,
        "errmsg": "ok",
        "wechat_channels_binding": False,
    }
