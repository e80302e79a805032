"""Typed views of what WeCom returns: `sync_msg` items (messages §3.5, events §4) and API results (§7, §8).

A `sync_msg` item is never dropped and never fails to parse: an unknown msgtype
or event type, or a known one whose body does not match the documented shape,
becomes `UnknownContent` / `UnknownEvent` holding the raw dict. Every
`SyncItem` keeps `raw`, the exact JSON object WeCom sent.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kefu.logs import get_logger
from kefu.wecom.outbound import (  # noqa: F401 — re-exported: callers may import message types from here
    CaLinkOut,
    FileOut,
    ImageOut,
    LinkOut,
    LocationOut,
    MenuClick,
    MenuItem,
    MenuMiniprogram,
    MenuOut,
    MenuText,
    MenuView,
    MiniprogramOut,
    OutboundMessage,
    TextOut,
    VideoOut,
    VoiceOut,
    check_msgid,
)
from kefu.wecom.results import (  # noqa: F401 — re-exported: the typed results live beside the payloads
    CustomerBatch,
    CustomerInfo,
    EnterSessionContext,
    KfAccountInfo,
    MediaFile,
    ServicerInfo,
    ServicerResult,
    ServiceState,
    TransResult,
    WechatChannels,
    WeComModel,
)

log = get_logger(__name__)

ORIGIN_CUSTOMER = 3  # sent by the WeChat customer
ORIGIN_SYSTEM = 4  # an event pushed by WeCom
ORIGIN_SERVICER = 5  # sent by a servicer from the WeCom client

# service_state values (§7.1)
STATE_NEW, STATE_ASSISTANT, STATE_QUEUED, STATE_HUMAN, STATE_ENDED = 0, 1, 2, 3, 4


# ---- message bodies (§3.5) ----


class Content(WeComModel):
    """The body object named after `msgtype`."""


class TextContent(Content):
    content: str
    menu_id: str | None = None  # set when the text came from a click on a menu item


class MediaContent(Content):
    media_id: str


class ImageContent(MediaContent): ...


class VoiceContent(MediaContent): ...  # AMR unless sync_msg asked voice_format=1 (Silk)


class VideoContent(MediaContent): ...


class FileContent(MediaContent): ...


class LocationContent(Content):
    latitude: float
    longitude: float
    name: str = ""
    address: str = ""


class LinkContent(Content):
    title: str = ""
    desc: str = ""
    url: str = ""
    pic_url: str = ""  # inbound links carry pic_url, not thumb_media_id


class BusinessCardContent(Content):
    userid: str


class MiniprogramContent(Content):
    title: str = ""
    appid: str = ""
    pagepath: str = ""
    thumb_media_id: str = ""


class MenuContent(Content):
    head_content: str = ""
    items: list[dict[str, Any]] = Field(default_factory=list, alias="list")
    tail_content: str = ""


class ChannelsShopProductContent(Content):
    product_id: str = ""
    head_img: str = ""
    title: str = ""
    sales_price: int = 0  # fen
    shop_nickname: str = ""
    shop_head_img: str = ""


class ChannelsShopOrderContent(Content):
    order_id: str = ""
    product_titles: str = ""
    price_wording: str = ""
    state: str = ""
    image_url: str = ""
    shop_nickname: str = ""


class MergedItem(WeComModel):
    send_time: int = 0
    msgtype: str = ""
    sender_name: str = ""
    msg_content: str = ""  # a JSON string holding one message in the normal shape

    def message(self) -> dict[str, Any]:
        """The decoded `msg_content`, or `{}` when it is not a JSON object."""
        try:
            value = json.loads(self.msg_content)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class MergedMsgContent(Content):
    title: str = ""
    item: list[MergedItem] = Field(default_factory=list)


class ChannelsContent(Content):
    sub_type: int = 0
    nickname: str = ""
    title: str = ""


class UnknownContent(Content):
    """A msgtype Kefu does not model (or a body that did not match): the body as WeCom sent it."""

    data: dict[str, Any] = Field(default_factory=dict)


CONTENT_TYPES: dict[str, type[Content]] = {
    "text": TextContent,
    "image": ImageContent,
    "voice": VoiceContent,
    "video": VideoContent,
    "file": FileContent,
    "location": LocationContent,
    "link": LinkContent,
    "business_card": BusinessCardContent,
    "miniprogram": MiniprogramContent,
    "msgmenu": MenuContent,
    "channels_shop_product": ChannelsShopProductContent,
    "channels_shop_order": ChannelsShopOrderContent,
    "merged_msg": MergedMsgContent,
    "channels": ChannelsContent,
}


# ---- events (§4) ----


class KfEvent(WeComModel):
    event_type: str
    open_kfid: str = ""
    external_userid: str = ""


class EnterSessionEvent(KfEvent):
    scene: str | None = None
    scene_param: str | None = None
    welcome_code: str | None = None  # valid 20 s, single use
    wechat_channels: WechatChannels | None = None


class MsgSendFailEvent(KfEvent):
    fail_msgid: str
    fail_type: int = 0


class ServicerStatusChangeEvent(KfEvent):
    servicer_userid: str
    status: int  # 1 = 接待中, 2 = 停止接待 (not the servicer/list encoding)
    stop_type: int | None = None  # for status 2: 0 = stopped, 1 = suspended


class SessionStatusChangeEvent(KfEvent):
    change_type: int  # 1 taken from pool, 2 transferred, 3 ended, 4 re-taken
    old_servicer_userid: str | None = None
    new_servicer_userid: str | None = None
    msg_code: str | None = None


class UserRecallMsgEvent(KfEvent):
    recall_msgid: str


class ServicerRecallMsgEvent(KfEvent):
    recall_msgid: str
    servicer_userid: str = ""


class RejectCustomerMsgSwitchChangeEvent(KfEvent):
    servicer_userid: str = ""
    reject_switch: int  # 1 = the servicer refuses this customer's messages, 0 = cancelled


class UnknownEvent(KfEvent):
    """An event type Kefu does not model (or one that did not match): the event object as sent."""

    data: dict[str, Any] = Field(default_factory=dict)


EVENT_TYPES: dict[str, type[KfEvent]] = {
    "enter_session": EnterSessionEvent,
    "msg_send_fail": MsgSendFailEvent,
    "servicer_status_change": ServicerStatusChangeEvent,
    "session_status_change": SessionStatusChangeEvent,
    "user_recall_msg": UserRecallMsgEvent,
    "servicer_recall_msg": ServicerRecallMsgEvent,
    "reject_customer_msg_switch_change": RejectCustomerMsgSwitchChangeEvent,
}


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_content(msgtype: str, body: Any) -> Content:
    data = _as_dict(body)
    model = CONTENT_TYPES.get(msgtype)
    if model is not None and isinstance(body, dict):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            log.warning("wecom.payload.unparsed_content", msgtype=msgtype, errors=exc.error_count())
    return UnknownContent(data=data)


def parse_event(body: Any) -> KfEvent:
    data = _as_dict(body)
    event_type = str(data.get("event_type", ""))
    model = EVENT_TYPES.get(event_type)
    if model is not None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            log.warning("wecom.payload.unparsed_event", event_type=event_type, errors=exc.error_count())
    return UnknownEvent(
        event_type=event_type,
        open_kfid=str(data.get("open_kfid") or ""),
        external_userid=str(data.get("external_userid") or ""),
        data=data,
    )


# ---- sync_msg ----


class SyncItem(BaseModel):
    """One `msg_list` entry. Build it with `SyncItem.from_raw(raw)`."""

    model_config = ConfigDict(frozen=True)

    raw: dict[str, Any]
    msgid: str
    send_time: int
    origin: int
    msgtype: str
    open_kfid: str
    external_userid: str
    servicer_userid: str | None  # who sent it (origin 5); events carry theirs inside `event`
    content: Content | None  # None for events
    event: KfEvent | None  # None for messages

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> SyncItem:
        msgtype = str(raw.get("msgtype") or "")
        if msgtype == "event":
            parsed = parse_event(raw.get("event"))
            event: KfEvent | None = parsed
            content: Content | None = None
            # Events carry the account and customer inside `event`, not at the top level.
            open_kfid = parsed.open_kfid or str(raw.get("open_kfid") or "")
            external_userid = parsed.external_userid or str(raw.get("external_userid") or "")
        else:
            event = None
            content = parse_content(msgtype, raw.get(msgtype))
            open_kfid = str(raw.get("open_kfid") or "")
            external_userid = str(raw.get("external_userid") or "")
        return cls(
            raw=raw,
            msgid=str(raw.get("msgid") or "") or synthetic_msgid(raw),
            send_time=_int(raw.get("send_time")),
            origin=_int(raw.get("origin")),
            msgtype=msgtype,
            open_kfid=open_kfid,
            external_userid=external_userid,
            servicer_userid=str(raw["servicer_userid"]) if raw.get("servicer_userid") else None,
            content=content,
            event=event,
        )

    @property
    def is_event(self) -> bool:
        return self.event is not None

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.send_time, UTC)


def synthetic_msgid(raw: dict[str, Any]) -> str:
    """A stable id for an item that came without `msgid` (their presence on events is UNCONFIRMED):
    the same item pulled twice gets the same id, so de-duplication by msgid still holds."""
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "nomsgid_" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class SyncPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    next_cursor: str
    has_more: bool  # may be True with no items: loop on has_more, never on emptiness
    items: list[SyncItem]
