"""§11.7 sending rules of kf/send_msg, over real HTTP; every call counted."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import Kf, assert_error


def send(kf: Kf, msgtype: str, body: Any, **extra: Any) -> dict[str, Any]:
    request = {"touser": kf.customer, "open_kfid": kf.open_kfid, "msgtype": msgtype, msgtype: body, **extra}
    return kf.post("kf/send_msg", request)


def upload(kf: Kf, media_type: str = "image", data: bytes = b"\x89PNG" + bytes(60)) -> str:
    answer = kf.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": kf.token, "type": media_type},
        files={"media": ("a.png", data, "image/png")},
    ).json()
    assert answer["errcode"] == 0, answer
    return answer["media_id"]


def menu(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"head_content": "您对本次服务是否满意呢?", "list": items, "tail_content": "欢迎再次光临", **extra}


def click(i: str = "101", content: str = "满意") -> dict[str, Any]:
    return {"type": "click", "click": {"id": i, "content": content}}


def test_send_only_in_0_or_1_and_0_moves_to_1(kf: Kf) -> None:
    """§11.7: send in 0 succeeds and moves to 1; in 2, 3, 4 → 95018."""
    assert_error(kf.send_text(), 95018)  # state 4: the customer never wrote
    kf.say("hi")
    assert kf.send_text()["errcode"] == 0
    assert kf.session()["state"] == 1
    assert kf.send_text()["errcode"] == 0  # still 1
    kf.trans(2)
    assert_error(kf.send_text(), 95018)
    kf.trans(3, "zhangsan")
    answer = kf.send_text()
    assert_error(answer, 95018)
    assert answer["errmsg"].startswith("send msg session status invalid")
    kf.trans(4)
    assert_error(kf.send_text(), 95018)


def test_five_sends_per_customer_message_95001(kf: Kf) -> None:
    """§11.7: at most 5 sends per customer message; a new customer message resets the count."""
    kf.say("hi")
    for _ in range(5):
        assert kf.send_text()["errcode"] == 0
    assert_error(kf.send_text(), 95001)
    kf.say("more")
    assert kf.send_text()["errcode"] == 0


def test_48_hour_window_95002(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.7: 48 h after the customer's last message → 95002 (our pick between 95002/95018)."""
    kf.say("hi")
    simulator.clock.advance(48 * 3600 - 1)
    assert kf.send_text()["errcode"] == 0
    simulator.clock.advance(1)
    assert_error(kf.send_text(), 95002)


def test_async_send_failures_switch(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.7: with the switch on, window/quota violations answer 0 and push msg_send_fail 6 / 4."""
    simulator.control("PATCH", "settings", {"async_send_failures": True})
    kf.say("hi")
    for _ in range(5):
        kf.send_text()
    over = kf.send_text()
    assert over["errcode"] == 0
    simulator.clock.advance(48 * 3600)
    late = kf.send_text()
    assert late["errcode"] == 0
    fails = [
        (m["event"]["fail_msgid"], m["event"]["fail_type"])
        for m in kf.sync()["msg_list"]
        if m["msgtype"] == "event"
    ]
    assert fails == [(over["msgid"], 6), (late["msgid"], 4)]
    assert len(kf.inbox()) == 5


def test_msgid_echoed_generated_unique(kf: Kf) -> None:
    """§11.7: a given msgid is echoed; otherwise one is generated; reuse in the account → 40058."""
    kf.say("hi")
    assert kf.send_text(msgid="kefu-out-1")["msgid"] == "kefu-out-1"
    generated = kf.send_text()["msgid"]
    assert generated and generated != "kefu-out-1"
    duplicate = kf.send_text(msgid="kefu-out-1")
    assert_error(duplicate, 40058)
    assert "msgid already used" in duplicate["errmsg"]
    assert_error(kf.send_text(msgid="x" * 33), 40058)
    assert_error(kf.send_text(msgid="有中文"), 40058)
    assert_error(kf.send_text(msgid="a b"), 40058)


def test_every_call_is_counted(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.7: the send log counts every call, duplicates and refusals included."""
    kf.say("hi")
    kf.send_text(msgid="m1")
    kf.send_text(msgid="m1")
    kf.send_text(text="")
    log = kf.sends(touser=kf.customer)
    assert log["count"] == 3
    assert [(s["requested_msgid"], s["errcode"], s["delivered"]) for s in log["sends"]] == [
        ("m1", 0, True),
        ("m1", 40058, False),
        ("", 44004, False),
    ]
    assert [m["msgid"] for m in kf.inbox()] == ["m1"]


def test_text_limits(kf: Kf) -> None:
    """§11.7: empty text 44004; > 2048 bytes 45002; exactly 2048 bytes is fine."""
    kf.say("hi")
    assert_error(kf.send_text(""), 44004)
    assert_error(kf.send_text("字" * 683), 45002)  # 2049 bytes
    assert kf.send_text("a" * 2048)["errcode"] == 0


def test_unknown_msgtype_and_missing_body(kf: Kf) -> None:
    """§5.3: bad msgtype 40008; a missing body object 40058; unknown touser 40096."""
    kf.say("hi")
    assert_error(send(kf, "sticker", {}), 40008)
    assert_error(
        kf.post("kf/send_msg", {"touser": kf.customer, "open_kfid": kf.open_kfid, "msgtype": "text"}), 40058
    )
    assert_error(kf.send_text(customer="wmnobody"), 40096)


def test_media_sends_need_valid_media_40007(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.7: bad or expired media_id → 40007; a fresh upload works for image/voice/video/file."""
    kf.say("hi")
    assert_error(send(kf, "image", {"media_id": "nope"}), 40007)
    media_id = upload(kf)
    for msgtype in ("image", "file"):
        assert send(kf, msgtype, {"media_id": media_id})["errcode"] == 0
    kf.say("again")
    simulator.clock.advance(3 * 86400)
    kf.say("later")
    assert_error(send(kf, "image", {"media_id": media_id}), 40007)


def test_menu_item_count_and_types(kf: Kf) -> None:
    """§11.7: > 10 items 95008; an unknown item type 95009; the doc's sample menu is accepted."""
    kf.say("hi")
    assert_error(send(kf, "msgmenu", menu([click(str(i)) for i in range(11)])), 95008)
    assert send(kf, "msgmenu", menu([click(str(i)) for i in range(10)]))["errcode"] == 0
    assert_error(send(kf, "msgmenu", menu([{"type": "button", "button": {}}])), 95009)
    assert_error(send(kf, "msgmenu", menu(["not an object"])), 95009)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("item", "errcode"),
    [
        (click("1" * 65), 45002),  # click.id ≤ 64 bytes
        (click("1" * 64), 0),
        (click("", "x"), 40058),  # click.id 1..64
        (click("1", "满" * 43), 45002),  # click.content ≤ 128 bytes (129)
        (click("1", ""), 40058),
        ({"type": "view", "view": {"url": "https://a.cn/" + "x" * 2040, "content": "go"}}, 45002),
        ({"type": "view", "view": {"url": "https://a.cn", "content": "x" * 1025}}, 45002),
        ({"type": "view", "view": {"content": "go"}}, 40058),
        ({"type": "miniprogram", "miniprogram": {"appid": "w" * 33, "pagepath": "p", "content": "c"}}, 45002),
        (
            {"type": "miniprogram", "miniprogram": {"appid": "wx1", "pagepath": "p" * 1025, "content": "c"}},
            45002,
        ),
        (
            {"type": "miniprogram", "miniprogram": {"appid": "wx1", "pagepath": "p", "content": "c" * 1025}},
            45002,
        ),
        ({"type": "text", "text": {"content": "t" * 257}}, 45002),  # 256: UNCONFIRMED limit we enforce
        ({"type": "text", "text": {"content": "t", "no_newline": 2}}, 40058),
        ({"type": "text", "text": {"content": "纯文本，支持\n换行", "no_newline": 1}}, 0),
        ({"type": "click"}, 40058),
    ],
)
def test_menu_field_limits(kf: Kf, item: dict[str, Any], errcode: int) -> None:
    """§11.7 / §5.4: every menu field limit (too long → 45002; missing/empty → 40058)."""
    kf.say("hi")
    answer = send(kf, "msgmenu", menu([item]))
    if errcode:
        assert_error(answer, errcode)
    else:
        assert answer["errcode"] == 0


def test_menu_head_and_tail_limits(kf: Kf) -> None:
    """§5.4: head_content and tail_content ≤ 1024 bytes (45002); list required (40058)."""
    kf.say("hi")
    assert_error(send(kf, "msgmenu", menu([click()], head_content="h" * 1025)), 45002)
    assert_error(send(kf, "msgmenu", menu([click()], tail_content="t" * 1025)), 45002)
    assert_error(send(kf, "msgmenu", {"head_content": "h"}), 40058)
    assert send(kf, "msgmenu", menu([click()], head_content="h" * 1024))["errcode"] == 0


def test_other_types(kf: Kf) -> None:
    """§5.2: link (title truncated to 128 bytes), miniprogram, location ranges, ca_link."""
    kf.say("hi")
    thumb = upload(kf)
    link = {"title": "标" * 50, "desc": "d", "url": "https://example.com/a", "thumb_media_id": thumb}
    assert send(kf, "link", link)["errcode"] == 0
    assert len(kf.inbox()[-1]["body"]["title"].encode()) <= 128
    assert_error(send(kf, "link", {**link, "url": "ftp://x"}), 40058)
    assert_error(send(kf, "link", {**link, "thumb_media_id": "nope"}), 40007)
    mini = {"appid": "wx123", "title": "t", "thumb_media_id": thumb, "pagepath": "pages/index"}
    assert send(kf, "miniprogram", mini)["errcode"] == 0
    location = {"name": "n", "address": "a", "latitude": 23.1, "longitude": 113.3}
    assert send(kf, "location", location)["errcode"] == 0
    kf.say("more")
    assert_error(send(kf, "location", {**location, "latitude": 91}), 40058)
    assert send(kf, "ca_link", {"link_url": "https://work.weixin.qq.com/ca/cawcde123"})["errcode"] == 0
    assert send(kf, "business_card", {"userid": "zhangsan"})["errcode"] == 0  # UNCONFIRMED type
    assert_error(send(kf, "business_card", {"userid": "ghost"}), 40003)
    assert_error(send(kf, "ca_link", {"link_url": "https://example.com"}), 40058)


def test_customer_receives_menus_with_items(kf: Kf) -> None:
    """§11.7 + control API: the customer's inbox shows the menu with its items."""
    kf.say("hi")
    body = menu([click("101", "满意"), click("102", "不满意")])
    msgid = send(kf, "msgmenu", body)["msgid"]
    [got] = kf.inbox()
    assert got["msgid"] == msgid and got["msgtype"] == "msgmenu" and got["body"] == body
    assert got["source"] == "send_msg"


def test_media_upload_and_get(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.11: upload (field `media`, created_at a string), get bytes, 3-day validity, JSON 40007."""
    data = b"\x89PNG\r\n" + bytes(100)
    answer = kf.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": kf.token, "type": "image"},
        files={"media": ("photo.png", data, "image/png")},
    ).json()
    assert answer["errcode"] == 0 and answer["type"] == "image" and isinstance(answer["created_at"], str)
    got = kf.http.get("/cgi-bin/media/get", params={"access_token": kf.token, "media_id": answer["media_id"]})
    assert got.content == data and got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == f'attachment; filename="{answer["media_id"]}.png"'
    simulator.clock.advance(3 * 86400)
    kf.token = kf.gettoken()
    gone = kf.http.get(
        "/cgi-bin/media/get", params={"access_token": kf.token, "media_id": answer["media_id"]}
    )
    assert gone.headers["content-type"] == "application/json"
    assert_error(gone.json(), 40007)


@pytest.mark.parametrize(
    ("media_type", "size", "errcode"),
    [
        ("sticker", 10, 40004),
        ("image", 5, 40006),
        ("image", 2 * 1024 * 1024 + 1, 40009),
        ("voice", 2 * 1024 * 1024 + 1, 45001),
        ("video", 10 * 1024 * 1024 + 1, 40011),
    ],
)
def test_media_upload_errors(kf: Kf, media_type: str, size: int, errcode: int) -> None:
    """§8.7: bad type 40004, ≤ 5 bytes 40006, too big 40009 (image) / 45001 (others)."""
    answer = kf.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": kf.token, "type": media_type},
        files={"media": ("f.bin", bytes(size), "application/octet-stream")},
    ).json()
    assert_error(answer, errcode)


def test_media_upload_without_media_field(kf: Kf) -> None:
    """§8.7: the multipart field must be named `media` (40058 otherwise)."""
    answer = kf.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": kf.token, "type": "image"},
        files={"file": ("f.png", bytes(50), "image/png")},
    ).json()
    assert_error(answer, 40058)


def test_customer_image_is_downloadable(kf: Kf, simulator: SimulatorServer) -> None:
    """§3.5: a customer's image arrives as a media_id the client can media/get."""
    data = b"\x89PNG" + bytes(30)
    body = {
        "open_kfid": kf.open_kfid,
        "msgtype": "image",
        "image": {"data_base64": base64.b64encode(data).decode()},
    }
    item = simulator.control("POST", f"customers/{kf.customer}/messages", body)["item"]
    media_id = item["image"]["media_id"]
    got = kf.http.get("/cgi-bin/media/get", params={"access_token": kf.token, "media_id": media_id})
    assert got.content == data
