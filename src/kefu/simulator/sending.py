"""`kf/send_msg` and `kf/send_msg_on_event` (§5, §6): validation, rules, the send log.

Every call is recorded in `World.sends`, refusals and duplicates included, so a
test can prove that nothing was sent twice. What the customer actually got is
in `World.received`. Sent messages never enter the sync_msg stream.
"""

from __future__ import annotations

import re
from typing import Any

from kefu.simulator import sessions, stream
from kefu.simulator.errors import WeComError
from kefu.simulator.state import WINDOW_S, Corp, Received, SendRecord, World, new_msgid

MSGID_RE = re.compile(r"^[0-9a-zA-Z_-]{1,32}$")
MEDIA_TYPES = ("image", "voice", "video", "file")
MAX_MENU_ITEMS = 10
MAX_SENDS_PER_CUSTOMER_MSG = 5

# §5.4 field limits in bytes: (min, max). Too long → 45002; missing/empty/not a string → 40058.
MENU_FIELDS: dict[str, dict[str, tuple[int, int]]] = {
    "click": {"id": (1, 64), "content": (1, 128)},
    "view": {"url": (1, 2048), "content": (1, 1024)},
    "miniprogram": {"appid": (1, 32), "pagepath": (1, 1024), "content": (1, 1024)},
    "text": {"content": (1, 256)},  # 256 is UNCONFIRMED (one generated schema); we enforce it
}


def _bytes(text: str) -> int:
    return len(text.encode())


def _truncate(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


def _string(obj: dict[str, Any], key: str, low: int, high: int, where: str) -> str:
    value = obj.get(key)
    if value is None or not isinstance(value, str) or _bytes(value) < low:
        raise WeComError(40058, f"{where}.{key} missing or empty")
    if _bytes(value) > high:
        raise WeComError(45002, f"{where}.{key} longer than {high} bytes")
    return value


def check_media(world: World, corp: Corp, media_id: Any) -> None:
    media = world.media.get(media_id) if isinstance(media_id, str) else None
    if media is None or media.corpid != corp.corpid or world.now() >= media.created_at + 3 * 86400:
        raise WeComError(40007)


def check_menu(menu: dict[str, Any]) -> dict[str, Any]:
    for key in ("head_content", "tail_content"):
        value = menu.get(key)
        if value is not None and (not isinstance(value, str) or _bytes(value) > 1024):
            raise WeComError(45002, f"msgmenu.{key} longer than 1024 bytes")
    items = menu.get("list")
    if not isinstance(items, list):
        raise WeComError(40058, "msgmenu.list missing")
    if len(items) > MAX_MENU_ITEMS:
        raise WeComError(95008)
    for number, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in MENU_FIELDS:
            raise WeComError(95009, f"list[{number}].type {kind!r}")
        sub = item.get(kind)
        if not isinstance(sub, dict):
            raise WeComError(40058, f"list[{number}].{kind} missing")
        for key, (low, high) in MENU_FIELDS[kind].items():
            _string(sub, key, low, high, f"list[{number}].{kind}")
        if kind == "text" and sub.get("no_newline", 0) not in (0, 1):
            raise WeComError(40058, f"list[{number}].text.no_newline must be 0 or 1")
    return menu


def check_body(world: World, corp: Corp, msgtype: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Validate the `<msgtype>` object of a send; returns what the customer receives."""
    if msgtype not in (*MEDIA_TYPES, "text", "link", "miniprogram", "msgmenu", "location", "ca_link") and (
        msgtype != "business_card"
    ):
        raise WeComError(40008)
    body = request.get(msgtype)
    if not isinstance(body, dict):
        raise WeComError(40058, f"{msgtype} missing")
    if msgtype == "text":
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise WeComError(44004)
        if _bytes(content) > 2048:
            raise WeComError(45002, "text.content longer than 2048 bytes")
        return {"content": content}
    if msgtype in MEDIA_TYPES:
        check_media(world, corp, body.get("media_id"))
        return {"media_id": body["media_id"]}
    if msgtype == "link":
        url = _string(body, "url", 1, 2048, "link")
        if not url.startswith(("http://", "https://")):
            raise WeComError(40058, "link.url must start with http:// or https://")
        check_media(world, corp, body.get("thumb_media_id"))
        title = _string(body, "title", 1, 10**6, "link")
        desc = str(body.get("desc") or "")
        # §5.2: longer title/desc are truncated, not refused.
        return {**body, "title": _truncate(title, 128), "desc": _truncate(desc, 512)}
    if msgtype == "miniprogram":
        _string(body, "appid", 1, 32, "miniprogram")
        _string(body, "pagepath", 1, 1024, "miniprogram")
        check_media(world, corp, body.get("thumb_media_id"))
        title = str(body.get("title") or "")
        return {**body, "title": _truncate(title, 64)}
    if msgtype == "msgmenu":
        return check_menu(body)
    if msgtype == "location":
        lat, lng = body.get("latitude"), body.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lng, int | float):
            raise WeComError(40058, "location.latitude/longitude must be numbers")
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise WeComError(40058, "location out of range")
        return body
    if msgtype == "ca_link":
        link_url = _string(body, "link_url", 1, 2048, "ca_link")
        if not link_url.startswith("https://work.weixin.qq.com/ca/"):
            raise WeComError(40058, "ca_link.link_url must be a 获客链接")
        return body
    # business_card (UNCONFIRMED as sendable): the userid must be a member of the corp.
    if body.get("userid") not in corp.members:
        raise WeComError(40003)
    return body


def _check_msgid(account_msgids: set[str], msgid: Any) -> str:
    if msgid in (None, ""):
        return ""
    if not isinstance(msgid, str) or not MSGID_RE.match(msgid):
        raise WeComError(40058, "msgid must be 1-32 bytes of [0-9a-zA-Z_-]")
    if msgid in account_msgids:
        # UNCONFIRMED errcode for a msgid already used in this kf account.
        raise WeComError(40058, "msgid already used")
    return msgid


def record(
    world: World, endpoint: str, corpid: str, request: dict[str, Any], errcode: int, **kw: Any
) -> None:
    world.sends.append(
        SendRecord(
            seq=world.next_seq(),
            at=world.now(),
            endpoint=endpoint,
            corpid=corpid,
            open_kfid=kw.pop("open_kfid", str(request.get("open_kfid") or "")),
            touser=kw.pop("touser", str(request.get("touser") or "")),
            msgtype=str(request.get("msgtype") or ""),
            requested_msgid=str(request.get("msgid") or ""),
            msgid=kw.pop("msgid", ""),
            errcode=errcode,
            request=request,
            **kw,
        )
    )
    world.touch()


def send_msg(world: World, corp: Corp, request: dict[str, Any]) -> str:
    """Returns the msgid; raises WeComError (after recording the refused call)."""
    try:
        msgid, delivered, fail_type = _send_msg(world, corp, request)
    except WeComError as exc:
        record(world, "kf/send_msg", corp.corpid, request, exc.errcode)
        raise
    record(
        world, "kf/send_msg", corp.corpid, request, 0, msgid=msgid, delivered=delivered, fail_type=fail_type
    )
    return msgid


def _send_msg(world: World, corp: Corp, request: dict[str, Any]) -> tuple[str, bool, int | None]:
    account = world.account_for(corp, request.get("open_kfid"))
    customer = world.customer_for(corp, request.get("touser"))
    msgid = _check_msgid(account.msgids, request.get("msgid"))
    msgtype = request.get("msgtype")
    body = check_body(world, corp, msgtype, request)
    session = world.session(account.open_kfid, customer.external_userid)
    now = world.now()
    asynchronous = world.settings.async_send_failures
    fail_type: int | None = None
    last = session.last_customer_msg_at
    if last is not None and now >= last + WINDOW_S:
        # UNCONFIRMED which of 95002/95018 (§5.3); an elapsed window answers 95002.
        if not asynchronous:
            raise WeComError(95002)
        fail_type = 4
    elif session.state not in (0, 1):
        raise WeComError(95018)
    elif session.sends_since_customer_msg >= MAX_SENDS_PER_CUSTOMER_MSG:
        if not asynchronous:
            raise WeComError(95001)
        fail_type = 6
    msgid = msgid or new_msgid()
    account.msgids.add(msgid)
    if fail_type is None:
        session.sends_since_customer_msg += 1
        if session.state == 0:
            sessions.move(world, session, 1, "api", note="send_msg")  # §5.3 rule 5 (should)
        if session.refused:
            fail_type = 10
    if fail_type is not None:
        stream.event(
            world,
            account,
            "msg_send_fail",
            external_userid=customer.external_userid,
            fail_msgid=msgid,
            fail_type=fail_type,
        )
        return msgid, False, fail_type
    _deliver(world, account.open_kfid, customer.external_userid, msgid, "send_msg", str(msgtype), body)
    return msgid, True, None


def send_msg_on_event(world: World, corp: Corp, request: dict[str, Any]) -> str:
    code = world.codes.get(str(request.get("code") or ""))
    where = {"open_kfid": code.open_kfid, "touser": code.external_userid} if code else {}
    try:
        msgid, delivered, fail_type = _send_on_event(world, corp, request)
    except WeComError as exc:
        record(world, "kf/send_msg_on_event", corp.corpid, request, exc.errcode, **where)
        raise
    record(
        world,
        "kf/send_msg_on_event",
        corp.corpid,
        request,
        0,
        msgid=msgid,
        delivered=delivered,
        fail_type=fail_type,
        **where,
    )
    return msgid


def _send_on_event(world: World, corp: Corp, request: dict[str, Any]) -> tuple[str, bool, int | None]:
    if not request.get("code"):
        raise WeComError(40058, "code missing")
    msgtype = request.get("msgtype")
    code = sessions.use_code(world, request.get("code"), str(msgtype))
    account = world.accounts.get(code.open_kfid)
    if account is None or account.corpid != corp.corpid:
        raise WeComError(95007, "code of another corp")
    msgid = _check_msgid(account.msgids, request.get("msgid"))
    body = check_body(world, corp, msgtype, request)
    msgid = msgid or new_msgid()
    account.msgids.add(msgid)
    code.used = True
    session = world.session(code.open_kfid, code.external_userid)
    if code.kind == "welcome":
        session.last_welcome_at = world.now()
    if session.refused:
        stream.event(
            world,
            account,
            "msg_send_fail",
            external_userid=code.external_userid,
            fail_msgid=msgid,
            fail_type=10,
        )
        return msgid, False, 10
    _deliver(
        world,
        account.open_kfid,
        code.external_userid,
        msgid,
        "send_msg_on_event",
        str(msgtype),
        body,
        code_kind=code.kind,
    )
    return msgid, True, None


def _deliver(
    world: World,
    open_kfid: str,
    external_userid: str,
    msgid: str,
    source: str,
    msgtype: str,
    body: dict[str, Any],
    **extra: Any,
) -> None:
    world.received.append(
        Received(
            msgid,
            open_kfid,
            external_userid,
            world.now(),
            source,
            msgtype,
            body,
            seq=world.next_seq(),
            **extra,
        )
    )
    world.touch()
