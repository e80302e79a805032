"""Messages Kefu sends (`kf/send_msg` §5, `kf/send_msg_on_event` §6), checked against WeCom's limits.

Each model validates on construction, with an error that names the limit, so
a message WeCom would refuse (45002, 95008, …) never leaves Kefu. Limits are
in UTF-8 bytes, as WeCom counts them. `.to_body()` gives the request's
`{"msgtype": …, <msgtype>: {…}}` part.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

TEXT_MAX_BYTES = 2048
MENU_MAX_ITEMS = 10
MENU_HEAD_TAIL_MAX_BYTES = 1024
MSGID_PATTERN = re.compile(r"^[0-9a-zA-Z_-]{1,32}$")


def _check_bytes(value: str, what: str, *, low: int, high: int) -> str:
    size = len(value.encode())
    if size < low:
        raise ValueError(f"{what} must not be empty")
    if size > high:
        raise ValueError(f"{what} is {size} bytes; WeCom accepts at most {high} bytes (UTF-8)")
    return value


def _check_url(value: str, what: str, *, high: int = 2048) -> str:
    _check_bytes(value, what, low=1, high=high)
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{what} must start with http:// or https://")
    return value


def check_msgid(msgid: str) -> str:
    """A send's own id: 1–32 bytes of [0-9a-zA-Z_-], unique within the kf account."""
    if not MSGID_PATTERN.match(msgid or ""):
        raise ValueError(f"msgid {msgid!r} must be 1–32 characters of [0-9a-zA-Z_-]")
    return msgid


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutboundMessage(_Out):
    """Base of every message Kefu can send."""

    msgtype: ClassVar[str]

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def to_body(self) -> dict[str, Any]:
        return {"msgtype": self.msgtype, self.msgtype: self.body()}


class TextOut(OutboundMessage):
    msgtype: ClassVar[str] = "text"
    content: str

    @field_validator("content")
    @classmethod
    def _limit(cls, value: str) -> str:
        return _check_bytes(value, "text content", low=1, high=TEXT_MAX_BYTES)


class _MediaOut(OutboundMessage):
    media_id: str = Field(min_length=1)


class ImageOut(_MediaOut):
    msgtype: ClassVar[str] = "image"


class VoiceOut(_MediaOut):
    msgtype: ClassVar[str] = "voice"


class VideoOut(_MediaOut):
    msgtype: ClassVar[str] = "video"


class FileOut(_MediaOut):
    msgtype: ClassVar[str] = "file"


class LinkOut(OutboundMessage):
    """A link card; the cover is an uploaded image (`thumb_media_id`), unlike inbound links (`pic_url`)."""

    msgtype: ClassVar[str] = "link"
    title: str = Field(min_length=1)  # WeCom truncates past 128 bytes
    desc: str | None = None  # WeCom truncates past 512 bytes
    url: str
    thumb_media_id: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, "link url")


class MiniprogramOut(OutboundMessage):
    msgtype: ClassVar[str] = "miniprogram"
    appid: str = Field(min_length=1)
    title: str | None = None  # WeCom truncates past 64 bytes
    thumb_media_id: str = Field(min_length=1)
    pagepath: str = Field(min_length=1)


class LocationOut(OutboundMessage):
    msgtype: ClassVar[str] = "location"
    name: str | None = None
    address: str | None = None
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class CaLinkOut(OutboundMessage):
    """A customer-acquisition link (获客链接, https://work.weixin.qq.com/ca/…)."""

    msgtype: ClassVar[str] = "ca_link"
    link_url: str

    @field_validator("link_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, "ca_link link_url")


# ---- menu messages (§5.4) ----


class _MenuItemBase(_Out):
    type: ClassVar[str]

    def to_item(self) -> dict[str, Any]:
        return {"type": self.type, self.type: self.model_dump(exclude_none=True)}


class MenuClick(_MenuItemBase):
    """Tapping it makes the customer send a text whose `menu_id` is this `id`."""

    type: ClassVar[str] = "click"
    id: str
    content: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_bytes(value, "menu click id", low=1, high=64)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _check_bytes(value, "menu click content", low=1, high=128)


class MenuView(_MenuItemBase):
    type: ClassVar[str] = "view"
    url: str
    content: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, "menu view url")

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _check_bytes(value, "menu view content", low=1, high=1024)


class MenuMiniprogram(_MenuItemBase):
    type: ClassVar[str] = "miniprogram"
    appid: str
    pagepath: str
    content: str

    @field_validator("appid")
    @classmethod
    def _appid(cls, value: str) -> str:
        return _check_bytes(value, "menu miniprogram appid", low=1, high=32)

    @field_validator("pagepath", "content")
    @classmethod
    def _text(cls, value: str) -> str:
        return _check_bytes(value, "menu miniprogram pagepath/content", low=1, high=1024)


class MenuText(_MenuItemBase):
    """Plain text inside a menu; `no_newline` = 1 keeps the next item on the same line."""

    type: ClassVar[str] = "text"
    content: str = Field(min_length=1)
    no_newline: int = Field(default=0, ge=0, le=1)  # an integer on the wire, never a bool


MenuItem = MenuClick | MenuView | MenuMiniprogram | MenuText


class MenuOut(OutboundMessage):
    msgtype: ClassVar[str] = "msgmenu"
    head_content: str | None = None
    items: list[MenuItem] = Field(default_factory=list)
    tail_content: str | None = None

    @field_validator("items")
    @classmethod
    def _count(cls, value: list[MenuItem]) -> list[MenuItem]:
        if len(value) > MENU_MAX_ITEMS:
            raise ValueError(f"a menu has {len(value)} items; WeCom accepts at most {MENU_MAX_ITEMS}")
        return value

    @field_validator("head_content", "tail_content")
    @classmethod
    def _head_tail(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _check_bytes(value, "menu head/tail content", low=0, high=MENU_HEAD_TAIL_MAX_BYTES)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.head_content is not None:
            body["head_content"] = self.head_content
        body["list"] = [item.to_item() for item in self.items]
        if self.tail_content is not None:
            body["tail_content"] = self.tail_content
        return body


# send_msg_on_event accepts only these (§6: welcome and ending codes allow text and menu).
EVENT_MESSAGE_TYPES = (TextOut, MenuOut)
