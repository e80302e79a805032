"""Each endpoint on the wire: path, method, access_token in the query, JSON keys, and the parsed result."""

from __future__ import annotations

import pytest

from kefu.wecom.client import WeComClient
from kefu.wecom.outbound import ImageOut, MenuClick, MenuMiniprogram, MenuOut, MenuText, MenuView, TextOut
from kefu.wecom.results import ServiceState
from tests.wecom.scripted_server import Recorded, Reply, ScriptedWeCom

KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
USER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"


def only_call(wecom: ScriptedWeCom, path: str, method: str = "POST") -> Recorded:
    calls = wecom.calls(path)
    assert len(calls) == 1, f"{path}: {len(calls)} calls"
    call = calls[0]
    assert call.method == method
    assert call.query["access_token"] in wecom.issued_tokens()  # in the query, from gettoken
    if method == "POST" and call.body:
        assert call.headers["content-type"].startswith(("application/json", "multipart/form-data"))
        assert "access_token" not in call.body.decode(errors="replace")
    return call


async def test_gettoken_request(client: WeComClient, wecom: ScriptedWeCom) -> None:
    token = await client.get_token()
    call = wecom.calls("gettoken")[0]
    assert call.method == "GET"
    assert call.query == {"corpid": "ww5823bf96d3bd56c7", "corpsecret": "app-secret-0123456789"}
    assert token.startswith("ACCESS_TOKEN_0001_")


async def test_account_endpoints(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/account/add", Reply({"errcode": 0, "errmsg": "ok", "open_kfid": KFID}))
    assert await client.account_add("咨询客服", "MEDIA_ID") == KFID
    assert only_call(wecom, "kf/account/add").json == {"name": "咨询客服", "media_id": "MEDIA_ID"}

    await client.account_del(KFID)
    assert only_call(wecom, "kf/account/del").json == {"open_kfid": KFID}

    await client.account_update(KFID, name="新名字")
    assert only_call(wecom, "kf/account/update").json == {"open_kfid": KFID, "name": "新名字"}

    wecom.script(
        "kf/account/list",
        Reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "account_list": [
                    {
                        "open_kfid": KFID,
                        "name": "咨询客服",
                        "avatar": "https://wework.qpic.cn/wwhead/x/0",
                        "manage_privilege": False,
                    }
                ],
            }
        ),
    )
    accounts = await client.account_list()
    assert only_call(wecom, "kf/account/list").json == {"offset": 0, "limit": 100}
    assert accounts[0].open_kfid == KFID and accounts[0].manage_privilege is False


async def test_account_list_all_pages_until_a_short_page(client: WeComClient, wecom: ScriptedWeCom) -> None:
    def page(start: int, count: int) -> Reply:
        items = [{"open_kfid": f"wk{n:030d}", "name": f"n{n}"} for n in range(start, start + count)]
        return Reply({"errcode": 0, "errmsg": "ok", "account_list": items})

    wecom.script("kf/account/list", page(0, 100), page(100, 100), page(200, 7))
    accounts = await client.account_list_all()
    assert len(accounts) == 207 and len({a.open_kfid for a in accounts}) == 207
    assert [c.json for c in wecom.calls("kf/account/list")] == [
        {"offset": 0, "limit": 100},
        {"offset": 100, "limit": 100},
        {"offset": 200, "limit": 100},
    ]


async def test_add_contact_way(client: WeComClient, wecom: ScriptedWeCom) -> None:
    url = "https://work.weixin.qq.com/kf/kfcbf8f8d07ac7215f?enc_scene=ENCGFSDF567DF"
    wecom.script("kf/add_contact_way", Reply({"errcode": 0, "errmsg": "ok", "url": url}))
    assert await client.add_contact_way(KFID, scene="spring_sale-1") == url
    assert only_call(wecom, "kf/add_contact_way").json == {"open_kfid": KFID, "scene": "spring_sale-1"}
    with pytest.raises(ValueError, match="scene"):
        await client.add_contact_way(KFID, scene="有中文")


async def test_servicer_endpoints(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script(
        "kf/servicer/add",
        Reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "result_list": [
                    {"userid": "zhangsan", "errcode": 0, "errmsg": "success"},
                    {"userid": "lisi", "errcode": 0, "errmsg": "ignored"},
                ],
            }
        ),
    )
    results = await client.servicer_add(KFID, ["zhangsan", "lisi"])
    assert only_call(wecom, "kf/servicer/add").json == {
        "open_kfid": KFID,
        "userid_list": ["zhangsan", "lisi"],
    }
    assert [(r.userid, r.ok, r.errmsg) for r in results] == [
        ("zhangsan", True, "success"),
        ("lisi", True, "ignored"),
    ]

    wecom.script(
        "kf/servicer/del",
        Reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "result_list": [{"department_id": 2, "errcode": 0, "errmsg": "success"}],
            }
        ),
    )
    results = await client.servicer_del(KFID, [], department_ids=[2])
    assert only_call(wecom, "kf/servicer/del").json == {
        "open_kfid": KFID,
        "userid_list": [],
        "department_id_list": [2],
    }
    assert results[0].department_id == 2

    wecom.script(
        "kf/servicer/list",
        Reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "servicer_list": [
                    {"userid": "zhangsan", "status": 0},
                    {"userid": "lisi", "status": 1, "stop_type": 1},
                    {"department_id": 2},
                ],
            }
        ),
    )
    servicers = await client.servicer_list(KFID)
    call = only_call(wecom, "kf/servicer/list", method="GET")
    assert call.query["open_kfid"] == KFID and call.body == b""
    assert [s.is_receiving for s in servicers] == [True, False, False]
    assert servicers[1].stop_type == 1 and servicers[2].department_id == 2


async def test_sync_msg_request(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script(
        "kf/sync_msg",
        Reply({"errcode": 0, "errmsg": "ok", "next_cursor": "C1", "has_more": 1, "msg_list": []}),
        Reply({"errcode": 0, "errmsg": "ok", "next_cursor": "C2", "has_more": 0, "msg_list": []}),
    )
    first = await client.sync_msg(
        open_kfid=KFID, cursor=None, token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"
    )
    assert first.has_more is True and first.items == [] and first.next_cursor == "C1"
    second = await client.sync_msg(open_kfid=KFID, cursor="C1", token=None, limit=500, voice_format=1)
    assert second.has_more is False
    bodies = [c.json for c in wecom.calls("kf/sync_msg")]
    # No cursor on the very first pull; no token when there is none (never null).
    assert bodies[0] == {
        "open_kfid": KFID,
        "limit": 1000,
        "voice_format": 0,
        "token": "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
    }
    assert bodies[1] == {"open_kfid": KFID, "limit": 500, "voice_format": 1, "cursor": "C1"}


async def test_send_msg_request(client: WeComClient, wecom: ScriptedWeCom) -> None:
    msgid = await client.send_msg(
        touser=USER, open_kfid=KFID, msgid="kefu_out_1", message=TextOut(content="你好")
    )
    assert msgid == "kefu_out_1"
    assert only_call(wecom, "kf/send_msg").json == {
        "touser": USER,
        "open_kfid": KFID,
        "msgid": "kefu_out_1",
        "msgtype": "text",
        "text": {"content": "你好"},
    }


async def test_send_msg_menu_request_matches_the_documented_shape(
    client: WeComClient, wecom: ScriptedWeCom
) -> None:
    menu = MenuOut(
        head_content="您对本次服务是否满意呢? ",
        items=[
            MenuClick(id="101", content="满意"),
            MenuClick(id="102", content="不满意"),
            MenuView(url="https://work.weixin.qq.com", content="点击跳转到自助查询页面"),
            MenuMiniprogram(
                appid="wx123123123123123",
                pagepath="pages/index?userid=zhangsan&orderid=123123123",
                content="点击打开小程序查询更多",
            ),
            MenuText(content="纯文本，支持\n换行", no_newline=0),
        ],
        tail_content="欢迎再次光临",
    )
    await client.send_msg(touser=USER, open_kfid=KFID, msgid="menu_1", message=menu)
    # The §5.4 sample, key for key (userid_list/no_newline/miniprogram pitfalls of §12 avoided).
    assert only_call(wecom, "kf/send_msg").json == {
        "touser": USER,
        "open_kfid": KFID,
        "msgid": "menu_1",
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "您对本次服务是否满意呢? ",
            "list": [
                {"type": "click", "click": {"id": "101", "content": "满意"}},
                {"type": "click", "click": {"id": "102", "content": "不满意"}},
                {
                    "type": "view",
                    "view": {"url": "https://work.weixin.qq.com", "content": "点击跳转到自助查询页面"},
                },
                {
                    "type": "miniprogram",
                    "miniprogram": {
                        "appid": "wx123123123123123",
                        "pagepath": "pages/index?userid=zhangsan&orderid=123123123",
                        "content": "点击打开小程序查询更多",
                    },
                },
                {"type": "text", "text": {"content": "纯文本，支持\n换行", "no_newline": 0}},
            ],
            "tail_content": "欢迎再次光临",
        },
    }


async def test_send_msg_on_event_request(client: WeComClient, wecom: ScriptedWeCom) -> None:
    assert await client.send_msg_on_event(
        code="CODE", msgid="welcome_1", message=TextOut(content="欢迎咨询")
    ) == ("welcome_1")
    assert only_call(wecom, "kf/send_msg_on_event").json == {
        "code": "CODE",
        "msgid": "welcome_1",
        "msgtype": "text",
        "text": {"content": "欢迎咨询"},
    }


async def test_service_state_requests(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script(
        "kf/service_state/get",
        Reply({"errcode": 0, "errmsg": "ok", "service_state": 3, "servicer_userid": "zhangsan"}),
    )
    assert await client.service_state_get(open_kfid=KFID, external_userid=USER) == ServiceState(
        state=3, servicer_userid="zhangsan"
    )
    assert only_call(wecom, "kf/service_state/get").json == {"open_kfid": KFID, "external_userid": USER}

    wecom.script("kf/service_state/trans", Reply({"errcode": 0, "errmsg": "ok", "msg_code": "MSG_CODE"}))
    result = await client.service_state_trans(
        open_kfid=KFID, external_userid=USER, service_state=3, servicer_userid="zhangsan"
    )
    assert result.msg_code == "MSG_CODE" and result.settled_by_get is False
    assert only_call(wecom, "kf/service_state/trans").json == {
        "open_kfid": KFID,
        "external_userid": USER,
        "service_state": 3,
        "servicer_userid": "zhangsan",
    }


async def test_customer_batchget(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script(
        "kf/customer/batchget",
        Reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "customer_list": [
                    {
                        "external_userid": "wmxxxxxxxxxxxxxxxxxxxxxx",
                        "nickname": "张三",
                        "avatar": "http://xxxxx",
                        "gender": 1,
                        "unionid": "oxasdaosaosdasdasdasd",
                        "enter_session_context": {
                            "scene": "123",
                            "scene_param": "abc",
                            "wechat_channels": {
                                "nickname": "进入会话的视频号名称",
                                "shop_nickname": "…",
                                "scene": 1,
                            },
                        },
                    }
                ],
                "invalid_external_userid": ["zhangsan"],
            }
        ),
    )
    batch = await client.customer_batchget(
        ["wmxxxxxxxxxxxxxxxxxxxxxx", "zhangsan"], need_enter_session_context=True
    )
    assert only_call(wecom, "kf/customer/batchget").json == {
        "external_userid_list": ["wmxxxxxxxxxxxxxxxxxxxxxx", "zhangsan"],
        "need_enter_session_context": 1,
    }
    customer = batch.customers[0]
    assert customer.nickname == "张三" and customer.gender == 1
    assert customer.enter_session_context is not None
    assert customer.enter_session_context.wechat_channels is not None
    assert customer.enter_session_context.wechat_channels.scene == 1
    assert batch.invalid_external_userids == ["zhangsan"]


async def test_client_side_limits_never_reach_wecom(client: WeComClient, wecom: ScriptedWeCom) -> None:
    with pytest.raises(ValueError, match="msgid"):
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="has space", message=TextOut(content="x"))
    with pytest.raises(ValueError, match="msgid"):
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="x" * 33, message=TextOut(content="x"))
    with pytest.raises(ValueError, match="text or msgmenu"):
        await client.send_msg_on_event(code="C", msgid="m1", message=ImageOut(media_id="M"))
    with pytest.raises(ValueError, match="1–100"):
        await client.customer_batchget([])
    with pytest.raises(ValueError, match="limit"):
        await client.sync_msg(open_kfid=KFID, cursor=None, token=None, limit=1001)
    assert wecom.requests == []
