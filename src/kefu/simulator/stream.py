"""The per-account append-only stream that `kf/sync_msg` reads (wecom-kf-api.md §3, §4).

Customer messages (origin 3), servicer messages from the WeCom app (origin 5)
and events (origin 4) are appended here; `send_msg` never is. Each append
wakes the corp's callback URL with a fresh sync Token.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
from typing import Any

from kefu.simulator.errors import WeComError
from kefu.simulator.state import RETENTION_S, Account, Corp, Customer, StreamItem, World, new_msgid

MAX_LIMIT = 1000


def _append(world: World, account: Account, item: dict[str, Any]) -> dict[str, Any]:
    msgid = new_msgid()
    now = world.now()
    full = {"msgid": msgid, "send_time": now, **item}
    if full["msgtype"] != "event":
        # Key order as in the doc samples: ids first, then time, origin, type, body.
        full = {
            "msgid": msgid,
            "open_kfid": account.open_kfid,
            "external_userid": item["external_userid"],
            "send_time": now,
            **{k: v for k, v in item.items() if k not in ("external_userid",)},
        }
    account.stream.append(StreamItem(world.next_seq(), now, full))
    account.msgids.add(msgid)
    world.touch()
    notify_kf(world, world.corps[account.corpid], account.open_kfid)
    return full


def customer_message(
    world: World, account: Account, customer: Customer, msgtype: str, body: dict[str, Any]
) -> dict[str, Any]:
    item = {"external_userid": customer.external_userid, "origin": 3, "msgtype": msgtype, msgtype: body}
    return _append(world, account, item)


def servicer_message(
    world: World, account: Account, external_userid: str, servicer_userid: str, msgtype: str, body: dict
) -> dict[str, Any]:
    item = {
        "external_userid": external_userid,
        "origin": 5,
        "servicer_userid": servicer_userid,
        "msgtype": msgtype,
        msgtype: body,
    }
    return _append(world, account, item)


def event(world: World, account: Account, event_type: str, **fields: Any) -> dict[str, Any]:
    """An origin-4 event: no top-level open_kfid/external_userid (§3.4); they sit inside `event`."""
    body = {"event_type": event_type, "open_kfid": account.open_kfid, **fields}
    return _append(world, account, {"origin": 4, "msgtype": "event", "event": body})


# -- callbacks ----------------------------------------------------------------


def kf_msg_or_event_xml(corpid: str, create_time: int, token: str, open_kfid: str) -> str:
    """The decrypted callback of §2.5."""
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{corpid}]]></ToUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{token}]]></Token>"
        f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId>"
        "</xml>"
    )


def auth_change_xml(corpid: str, create_time: int, *, added: str = "", removed: str = "") -> str:
    """`kf_account_auth_change` (§2.5); real pushes carry only one of the two tags."""
    tag = (
        f"<AuthAddOpenKfId><![CDATA[{added}]]></AuthAddOpenKfId>"
        if added
        else f"<AuthDelOpenKfId><![CDATA[{removed}]]></AuthDelOpenKfId>"
    )
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{corpid}]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[kf_account_auth_change]]></Event>"
        f"{tag}"
        "</xml>"
    )


def notify_kf(world: World, corp: Corp, open_kfid: str) -> None:
    """One callback per action, each with its own fresh sync Token."""
    if not corp.callback_url:
        return
    token = world.issue_sync_token(corp)
    world.notify(corp, open_kfid, kf_msg_or_event_xml(corp.corpid, world.now(), token, open_kfid))


# -- cursors and pages ----------------------------------------------------------


def encode_cursor(account: Account, seq: int) -> str:
    """Opaque (22 bytes ≤ 64): the stream position plus a MAC so cursors can't be forged."""
    payload = seq.to_bytes(8, "big")
    mac = hmac.new(account.cursor_key, payload, hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def decode_cursor(account: Account, cursor: str) -> int:
    """The position after which to read; a cursor of another account or forged → 40058."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise WeComError(40058, "invalid cursor") from exc
    payload, mac = raw[:8], raw[8:]
    expected = hmac.new(account.cursor_key, payload, hashlib.sha256).digest()[:8]
    if len(raw) != 16 or not hmac.compare_digest(mac, expected):
        raise WeComError(40058, "invalid cursor")
    return int.from_bytes(payload, "big")


def page(world: World, account: Account, cursor: str, limit: int) -> tuple[list[dict], str, bool]:
    """Items after `cursor` within the 3-day retention, oldest first: (items, next_cursor, has_more)."""
    after = decode_cursor(account, cursor) if cursor else 0
    cutoff = world.now() - RETENTION_S
    index = bisect.bisect_right(account.stream, after, key=lambda s: s.seq)
    items: list[dict] = []
    last_seq = after
    has_more = False
    for entry in account.stream[index:]:
        if entry.send_time <= cutoff:
            continue  # gone after 3 days
        if len(items) == limit:
            has_more = True
            break
        items.append(entry.item)
        last_seq = entry.seq
    return items, encode_cursor(account, last_seq), has_more


def has_items_after(world: World, account: Account, cursor: str) -> bool:
    after = decode_cursor(account, cursor) if cursor else 0
    cutoff = world.now() - RETENTION_S
    index = bisect.bisect_right(account.stream, after, key=lambda s: s.seq)
    return any(entry.send_time > cutoff for entry in account.stream[index:])
