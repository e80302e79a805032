"""A pulled `sync_msg` item as decide() input: a customer's or servicer's message, or an event.
A servicer's reception status is no conversation's business and comes out as `ServicerStatus`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kefu.ingest.models import Message
from kefu.reception.core import (
    CustomerNonText,
    CustomerText,
    EnterSession,
    Inbound,
    Recall,
    SendFailed,
    ServicerMessage,
    SessionStatusChange,
)
from kefu.wecom.payloads import ServicerStatusChangeEvent, SyncItem, TextContent

ORIGIN_CUSTOMER, ORIGIN_EVENT, ORIGIN_SERVICER = 3, 4, 5


@dataclass(frozen=True)
class ServicerStatus:
    """`servicer_status_change`: not a conversation's business; it updates the servicer's row."""

    userid: str
    status: int
    stop_type: int | None


def inbound_of(message: Message) -> Inbound | ServicerStatus | None:
    """What a stored `sync_msg` item means to the reception engine (None: nothing to decide)."""
    item = SyncItem.from_raw(message.payload)
    at = message.send_time
    if message.origin == ORIGIN_CUSTOMER:
        if isinstance(item.content, TextContent):
            return CustomerText(
                msgid=message.msgid, text=item.content.content, menu_id=item.content.menu_id, sent_at=at
            )
        return CustomerNonText(msgid=message.msgid, msgtype=message.msgtype, sent_at=at)
    if message.origin == ORIGIN_SERVICER:
        servicer = message.servicer_userid or item.servicer_userid or ""
        return ServicerMessage(msgid=message.msgid, servicer_userid=servicer, sent_at=at)
    if message.origin != ORIGIN_EVENT or item.event is None:
        return None
    event, fields = item.event, item.event.model_dump()
    match event.event_type:
        case "enter_session":
            return EnterSession(
                msgid=message.msgid,
                welcome_code=fields.get("welcome_code") or None,
                scene=fields.get("scene"),
                scene_param=fields.get("scene_param"),
                sent_at=at,
            )
        case "session_status_change" if fields.get("change_type") in (1, 2, 3, 4):
            return SessionStatusChange(
                msgid=message.msgid,
                change_type=fields["change_type"],
                old_servicer_userid=fields.get("old_servicer_userid") or None,
                new_servicer_userid=fields.get("new_servicer_userid") or None,
                msg_code=fields.get("msg_code") or None,
                sent_at=at,
            )
        case "msg_send_fail" if fields.get("fail_msgid"):
            return SendFailed(
                msgid=message.msgid, fail_msgid=fields["fail_msgid"], fail_type=fields.get("fail_type") or 0
            )
        case "user_recall_msg" | "servicer_recall_msg" if fields.get("recall_msgid"):
            by: Literal["customer", "servicer"] = (
                "customer" if event.event_type == "user_recall_msg" else "servicer"
            )
            return Recall(msgid=message.msgid, recall_msgid=fields["recall_msgid"], by=by)
        case "servicer_status_change" if isinstance(event, ServicerStatusChangeEvent):
            return ServicerStatus(event.servicer_userid, event.status, event.stop_type)
    return None
