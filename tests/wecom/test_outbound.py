"""Outbound messages: the documented body of each type, and WeCom's limits checked before sending."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kefu.wecom.outbound import (
    CaLinkOut,
    FileOut,
    ImageOut,
    LinkOut,
    LocationOut,
    MenuClick,
    MenuMiniprogram,
    MenuOut,
    MenuText,
    MenuView,
    MiniprogramOut,
    TextOut,
    VideoOut,
    VoiceOut,
    check_msgid,
)


def test_bodies_of_every_type() -> None:
    assert TextOut(content="你好").to_body() == {"msgtype": "text", "text": {"content": "你好"}}
    for model, name in [(ImageOut, "image"), (VoiceOut, "voice"), (VideoOut, "video"), (FileOut, "file")]:
        assert model(media_id="MID").to_body() == {"msgtype": name, name: {"media_id": "MID"}}
    # Outbound links take thumb_media_id (inbound ones carry pic_url).
    assert LinkOut(title="T", desc="D", url="https://example.com/a", thumb_media_id="TH").to_body() == {
        "msgtype": "link",
        "link": {"title": "T", "desc": "D", "url": "https://example.com/a", "thumb_media_id": "TH"},
    }
    assert MiniprogramOut(appid="wx1", title="T", thumb_media_id="TH", pagepath="pages/i").to_body() == {
        "msgtype": "miniprogram",
        "miniprogram": {"appid": "wx1", "title": "T", "thumb_media_id": "TH", "pagepath": "pages/i"},
    }
    assert LocationOut(name="N", address="A", latitude=23.1, longitude=113.3).to_body() == {
        "msgtype": "location",
        "location": {"name": "N", "address": "A", "latitude": 23.1, "longitude": 113.3},
    }
    assert CaLinkOut(link_url="https://work.weixin.qq.com/ca/cawcde").to_body() == {
        "msgtype": "ca_link",
        "ca_link": {"link_url": "https://work.weixin.qq.com/ca/cawcde"},
    }


def test_menu_body_and_item_keys() -> None:
    menu = MenuOut(
        items=[
            MenuClick(id="a", content="A"),
            MenuView(url="http://x.cn", content="V"),
            MenuMiniprogram(appid="wx1", pagepath="p", content="M"),
            MenuText(content="t", no_newline=1),
        ]
    )
    body = menu.to_body()
    assert body == {
        "msgtype": "msgmenu",
        "msgmenu": {
            "list": [
                {"type": "click", "click": {"id": "a", "content": "A"}},
                {"type": "view", "view": {"url": "http://x.cn", "content": "V"}},
                {"type": "miniprogram", "miniprogram": {"appid": "wx1", "pagepath": "p", "content": "M"}},
                {"type": "text", "text": {"content": "t", "no_newline": 1}},
            ]
        },
    }
    # no_newline is an integer on the wire, never a boolean.
    assert type(body["msgmenu"]["list"][3]["text"]["no_newline"]) is int


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: TextOut(content="字" * 683), "2049 bytes; WeCom accepts at most 2048"),
        (lambda: TextOut(content=""), "must not be empty"),
        (lambda: MenuOut(items=[MenuClick(id=str(n), content="x") for n in range(11)]), "11 items"),
        (lambda: MenuOut(head_content="a" * 1025, items=[]), "head/tail content is 1025 bytes"),
        (lambda: MenuOut(tail_content="尾" * 342, items=[]), "head/tail content is 1026 bytes"),
        (lambda: MenuClick(id="i" * 65, content="x"), "click id is 65 bytes"),
        (lambda: MenuClick(id="1", content="满" * 43), "click content is 129 bytes"),
        (lambda: MenuText(content="t", no_newline=2), "no_newline"),
        (lambda: MenuView(url="javascript:alert(1)", content="x"), "http"),
        (lambda: LinkOut(title="T", url="ftp://x", thumb_media_id="TH"), "http"),
        (lambda: LocationOut(latitude=91, longitude=0), "latitude"),
        (lambda: ImageOut(media_id=""), "media_id"),
    ],
)
def test_limits_are_checked_with_clear_errors(build, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        build()
    assert words in str(caught.value)


def test_limits_at_the_edge_are_accepted() -> None:
    TextOut(content="字" * 682 + "ab")  # 2048 bytes
    MenuOut(head_content="a" * 1024, items=[MenuClick(id="i" * 64, content="c" * 128)] * 10)


def test_msgid_rules() -> None:
    assert check_msgid("out_12-AB") == "out_12-AB"
    for bad in ["", "x" * 33, "with space", "中文", "a.b"]:
        with pytest.raises(ValueError, match="msgid"):
            check_msgid(bad)
