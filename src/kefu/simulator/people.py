"""What people do outside the API: the WeChat customer (§11.10) and the servicer in the
WeCom app (§11.9). The control API calls these; each appends to the stream, which
triggers a callback.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from kefu.simulator import sessions, stream
from kefu.simulator.errors import ControlError
from kefu.simulator.state import Account, Corp, Customer, Member, Received, Session, World

CUSTOMER_TYPES = {
    "text",
    "image",
    "voice",
    "video",
    "file",
    "location",
    "link",
    "business_card",
    "miniprogram",
    "msgmenu",
    "channels_shop_product",
    "channels_shop_order",
    "merged_msg",
    "channels",
}


def resolve_contact_url(world: World, url: str) -> tuple[str, str, str]:
    """A contact link from add_contact_way (+ `&scene_param=`) → (open_kfid, scene, scene_param)."""
    query = parse_qs(urlsplit(url).query)
    enc = (query.get("enc_scene") or [""])[0]
    if enc not in world.contact_ways:
        raise ControlError(404, "unknown contact link (was it made by kf/add_contact_way?)")
    open_kfid, scene = world.contact_ways[enc]
    # §8.2: scene_param comes back unchanged, i.e. still URL-encoded as appended.
    raw = [p.split("=", 1)[1] for p in urlsplit(url).query.split("&") if p.startswith("scene_param=")]
    return open_kfid, scene, (raw or [""])[0]


def enter(
    world: World,
    account: Account,
    customer: Customer,
    *,
    scene: str = "",
    scene_param: str = "",
    wechat_channels: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The customer opens the chat: `enter_session`, with a welcome_code when §4.1 allows."""
    session = world.session(account.open_kfid, customer.external_userid)
    fields: dict[str, Any] = {"external_userid": customer.external_userid}
    if scene:
        fields["scene"] = scene
        if scene_param:
            fields["scene_param"] = scene_param
    if sessions.welcome_allowed(world, session):
        fields["welcome_code"] = sessions.issue_code(world, session, "welcome")
    if wechat_channels:
        fields["wechat_channels"] = wechat_channels
    context: dict[str, Any] = {"scene": scene, "scene_param": scene_param}
    if wechat_channels:
        context["wechat_channels"] = wechat_channels
    customer.enter_context = context
    customer.last_activity_at = world.now()
    return stream.event(world, account, "enter_session", **fields)


def customer_message(
    world: World, account: Account, customer: Customer, msgtype: str, body: dict[str, Any]
) -> dict[str, Any]:
    if msgtype not in CUSTOMER_TYPES or not isinstance(body, dict):
        raise ControlError(422, f"msgtype must be one of {sorted(CUSTOMER_TYPES)} with a body object")
    session = world.session(account.open_kfid, customer.external_userid)
    sessions.customer_wrote(world, session)
    customer.last_activity_at = world.now()
    return stream.customer_message(world, account, customer, msgtype, body)


def click_menu(
    world: World, account: Account, customer: Customer, menu_msgid: str, item_id: str
) -> dict[str, Any]:
    """Tap a `click` item of a received menu: a customer text with `menu_id` (§5.4)."""
    for got in received(world, customer.external_userid, account.open_kfid):
        if got.msgid == menu_msgid and got.msgtype == "msgmenu":
            for item in got.body.get("list", []):
                if item.get("type") == "click" and item["click"].get("id") == item_id:
                    body = {"content": item["click"]["content"], "menu_id": item_id}
                    return customer_message(world, account, customer, "text", body)
            raise ControlError(404, f"menu {menu_msgid} has no click item {item_id!r}")
    raise ControlError(404, f"the customer has not received a menu {menu_msgid}")


def customer_recall(world: World, account: Account, customer: Customer, msgid: str) -> dict[str, Any]:
    if not _in_stream(account, msgid, origin=3, external_userid=customer.external_userid):
        raise ControlError(404, "no message of this customer with that msgid")
    return stream.event(
        world, account, "user_recall_msg", external_userid=customer.external_userid, recall_msgid=msgid
    )


def received(world: World, external_userid: str, open_kfid: str | None = None) -> list[Received]:
    return [
        r
        for r in world.received
        if r.external_userid == external_userid and (open_kfid is None or r.open_kfid == open_kfid)
    ]


def transcript(world: World, account: Account, external_userid: str) -> list[dict[str, Any]]:
    """Both sides of one customer's conversation with the account, in order (for pages)."""
    entries: list[tuple[int, dict[str, Any]]] = []
    recalled: set[str] = set()
    for entry in account.stream:
        item = entry.item
        if item["msgtype"] == "event":
            event = item["event"]
            if event.get("external_userid") != external_userid:
                continue
            if event["event_type"] in ("user_recall_msg", "servicer_recall_msg"):
                recalled.add(event["recall_msgid"])
            entries.append((entry.seq, {"from": "event", "msgtype": "event", "body": event}))
        elif item["external_userid"] == external_userid:
            side = "customer" if item["origin"] == 3 else "servicer"
            body = {
                "from": side,
                "msgtype": item["msgtype"],
                "body": item[item["msgtype"]],
                "servicer_userid": item.get("servicer_userid", ""),
            }
            entries.append((entry.seq, body))
        else:
            continue
        entries[-1][1].update(msgid=item["msgid"], send_time=item["send_time"])
    for got in received(world, external_userid, account.open_kfid):
        if got.source != "servicer":  # servicer replies are already in the stream (origin 5)
            entries.append(
                (
                    got.seq,
                    {
                        "from": "api",
                        "msgtype": got.msgtype,
                        "body": got.body,
                        "msgid": got.msgid,
                        "send_time": got.send_time,
                        "source": got.source,
                        "code_kind": got.code_kind,
                    },
                )
            )
    entries.sort(key=lambda pair: pair[0])
    return [{"seq": seq, **entry, "recalled": entry["msgid"] in recalled} for seq, entry in entries]


def _in_stream(
    account: Account, msgid: str, *, origin: int, external_userid: str, servicer: str = ""
) -> bool:
    return any(
        e.item.get("msgid") == msgid
        and e.item.get("origin") == origin
        and e.item.get("external_userid") == external_userid
        and (not servicer or e.item.get("servicer_userid") == servicer)
        for e in account.stream
    )


# -- the servicer in the WeCom app ---------------------------------------------


def _servicer(world: World, corp: Corp, account: Account, userid: str) -> Member:
    member = corp.members.get(userid)
    if member is None or not world.member_is_servicer(account, userid):
        raise ControlError(409, f"{userid!r} is not a servicer of this account")
    if not member.activated:
        raise ControlError(409, f"{userid!r} has not activated WeCom")
    return member


def _require(session: Session, state: int, servicer: str | None = None) -> None:
    if session.state != state or (servicer is not None and session.servicer_userid != servicer):
        who = f" served by {servicer!r}" if servicer is not None else ""
        raise ControlError(409, f"session is in state {session.state}, not {state}{who}")


def servicer_reply(
    world: World, corp: Corp, account: Account, session: Session, userid: str, msgtype: str, body: dict
) -> dict[str, Any]:
    """A reply typed in the WeCom app: origin 5 in the stream, and the customer gets it."""
    _servicer(world, corp, account, userid)
    _require(session, 3, userid)
    if msgtype not in CUSTOMER_TYPES or not isinstance(body, dict):
        raise ControlError(422, "unsupported msgtype")
    item = stream.servicer_message(world, account, session.external_userid, userid, msgtype, body)
    world.received.append(
        Received(
            item["msgid"],
            account.open_kfid,
            session.external_userid,
            item["send_time"],
            "servicer",
            msgtype,
            body,
            servicer_userid=userid,
            seq=account.stream[-1].seq,
        )
    )
    return item


def _status_event(world: World, account: Account, session: Session, change_type: int, **fields: Any) -> dict:
    return stream.event(
        world,
        account,
        "session_status_change",
        external_userid=session.external_userid,
        change_type=change_type,
        **fields,
    )


def take(world: World, corp: Corp, account: Account, session: Session, userid: str) -> dict[str, Any]:
    """From the waiting pool (2 → 3): change_type 1 with a msg_code."""
    _servicer(world, corp, account, userid)
    _require(session, 2)
    sessions.move(world, session, 3, "servicer", userid, "take")
    session.entered_human = True
    code = sessions.issue_code(world, session, "taken")
    return _status_event(world, account, session, 1, new_servicer_userid=userid, msg_code=code)


def transfer(world: World, corp: Corp, account: Account, session: Session, userid: str, to: str) -> dict:
    """3 → 3 with another servicer: change_type 2, old and new ids."""
    _servicer(world, corp, account, userid)
    _servicer(world, corp, account, to)
    _require(session, 3, userid)
    if to == userid:
        raise ControlError(409, "transfer to another servicer")
    sessions.move(world, session, 3, "servicer", to, "transfer")
    return _status_event(world, account, session, 2, old_servicer_userid=userid, new_servicer_userid=to)


def end(world: World, corp: Corp, account: Account, session: Session, userid: str) -> dict[str, Any]:
    """3 → 4: change_type 3 with an ending msg_code."""
    _servicer(world, corp, account, userid)
    _require(session, 3, userid)
    sessions.move(world, session, 4, "servicer", note=f"ended by {userid}")
    code = sessions.issue_code(world, session, "ending")
    return _status_event(world, account, session, 3, old_servicer_userid=userid, msg_code=code)


def retake(world: World, corp: Corp, account: Account, session: Session, userid: str) -> dict[str, Any]:
    """Re-take an ended (4) or transferred-away (3, other servicer) session: change_type 4."""
    _servicer(world, corp, account, userid)
    if session.state == 3 and session.servicer_userid != userid:
        old = session.servicer_userid
    elif session.state == 4:
        # The servicer who served last (moves into 3 record the servicer).
        old = next((h.servicer_userid for h in reversed(session.history) if h.servicer_userid), "")
        if not old:
            raise ControlError(409, "nothing to re-take: the session was never served")
        sessions.start_new_session(world, session)
        session.entered_human = True
    else:
        raise ControlError(409, f"session is in state {session.state}; re-take needs 4 or another's 3")
    sessions.move(world, session, 3, "servicer", userid, "retake")
    return _status_event(world, account, session, 4, old_servicer_userid=old, new_servicer_userid=userid)


def servicer_recall(
    world: World, corp: Corp, account: Account, session: Session, userid: str, msgid: str
) -> dict:
    _servicer(world, corp, account, userid)
    if not _in_stream(account, msgid, origin=5, external_userid=session.external_userid, servicer=userid):
        raise ControlError(404, "no message of this servicer with that msgid")
    for got in world.received:
        if got.msgid == msgid and got.open_kfid == account.open_kfid:
            got.recalled = True
    return stream.event(
        world,
        account,
        "servicer_recall_msg",
        external_userid=session.external_userid,
        recall_msgid=msgid,
        servicer_userid=userid,
    )


def reject(world: World, corp: Corp, account: Account, session: Session, userid: str, on: bool) -> dict:
    """reject_customer_msg_switch_change; while on, API sends fail later with fail_type 10."""
    _servicer(world, corp, account, userid)
    session.refused = on
    return stream.event(
        world,
        account,
        "reject_customer_msg_switch_change",
        external_userid=session.external_userid,
        servicer_userid=userid,
        reject_switch=1 if on else 0,
    )


def set_reception(world: World, corp: Corp, member: Member, status: int, stop_type: int) -> list[dict]:
    """Toggle reception (event encoding: 1 接待中, 2 停止接待); one event per account listing them."""
    if status not in (1, 2) or stop_type not in (0, 1):
        raise ControlError(422, "status must be 1 (接待中) or 2 (停止接待); stop_type 0 or 1")
    member.status = 0 if status == 1 else 1
    member.stop_type = stop_type if status == 2 else 0
    events = []
    for open_kfid in corp.account_ids:
        account = world.accounts[open_kfid]
        if world.member_is_servicer(account, member.userid):
            fields: dict[str, Any] = {"servicer_userid": member.userid, "status": status}
            if status == 2:
                fields["stop_type"] = stop_type
            events.append(stream.event(world, account, "servicer_status_change", **fields))
    world.touch()
    return events
