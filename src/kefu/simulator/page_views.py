"""The views behind the simulator's pages (`/_sim/ui/...`, see pages.py): the world shaped
for display. Callers hold `world.lock`.

Messages come in order from `people.transcript` (stream items and deliveries share one
sequence). API state moves (`trans`) carry no sequence: each is placed after what
happened before it in its second, but before the next servicer move of the session.
"""

from __future__ import annotations

from typing import Any

from kefu.simulator import people
from kefu.simulator.control import account_of
from kefu.simulator.errors import ControlError
from kefu.simulator.state import Account, Corp, Customer, Session, World

STATE_NAMES = {0: "未处理", 1: "智能助手接待", 2: "排队中", 3: "人工接待", 4: "已结束"}
CODE_KINDS = {"welcome": "欢迎语", "pool": "排队提示", "taken": "接入提示", "ending": "结束语"}
PREVIEW_TAGS = {
    "image": "[图片]",
    "voice": "[语音]",
    "video": "[视频]",
    "file": "[文件]",
    "location": "[位置]",
    "link": "[链接]",
    "miniprogram": "[小程序]",
    "business_card": "[名片]",
    "msgmenu": "[菜单]",
}


def pair(world: World, open_kfid: str, external_userid: str) -> tuple[Account, Customer]:
    account = account_of(world, open_kfid)
    customer = world.customers.get(external_userid)
    if customer is None or customer.corpid != account.corpid:
        raise ControlError(404, f"no customer {external_userid} in this account's corp")
    return account, customer


def _member_name(world: World, corpid: str, userid: str) -> str:
    member = world.corps[corpid].members.get(userid)
    return member.name if member else userid


def directory_view(world: World) -> dict[str, Any]:
    corps = []
    for corp in world.corps.values():
        accounts = [world.accounts[k] for k in corp.account_ids]
        corps.append(
            {
                "corpid": corp.corpid,
                "name": corp.name,
                "callback_url": corp.callback_url,
                "accounts": [
                    {"open_kfid": a.open_kfid, "name": a.name, "servicers": _servicers(world, corp, a)}
                    for a in accounts
                ],
                "members": [_member_view(m) for m in corp.members.values()],
                "customers": [
                    {"external_userid": c.external_userid, "nickname": c.nickname}
                    for c in world.customers.values()
                    if c.corpid == corp.corpid
                ],
            }
        )
    return {"version": world.version, "now": world.now(), "corps": corps}


def _member_view(member: Any) -> dict[str, Any]:
    return {
        "userid": member.userid,
        "name": member.name,
        "activated": member.activated,
        "receiving": member.status == 0,
        "status_name": "接待中" if member.status == 0 else "停止接待",
    }


def _servicers(world: World, corp: Corp, account: Account) -> list[dict[str, Any]]:
    return [_member_view(m) for m in corp.members.values() if world.member_is_servicer(account, m.userid)]


def _message(msgid: str, at: int, msgtype: str, body: Any, **extra: Any) -> dict[str, Any]:
    return {"id": msgid, "time": at, "msgtype": msgtype, "body": body, **extra}


def _note(note_id: str, at: int, text: str) -> dict[str, Any]:
    return {"id": note_id, "time": at, "kind": "note", "text": text}


def _session_state(world: World, account: Account, customer: Customer) -> dict[str, Any]:
    """The pair's session, if one exists (reading must not create one)."""
    key = (account.open_kfid, customer.external_userid)
    session = world.session(*key) if key in world.sessions else None
    state = session.state if session else 4
    userid = session.servicer_userid if session else ""
    return {
        "state": state,
        "state_name": STATE_NAMES[state],
        "servicer_userid": userid,
        "servicer_name": _member_name(world, account.corpid, userid) if userid else "",
    }


def _header(world: World, account: Account, customer: Customer) -> dict[str, Any]:
    return {
        "version": world.version,
        "now": world.now(),
        "account": {"open_kfid": account.open_kfid, "name": account.name},
        "customer": {"external_userid": customer.external_userid, "nickname": customer.nickname},
        "session": _session_state(world, account, customer),
    }


def chat_view(world: World, account: Account, customer: Customer) -> dict[str, Any]:
    """The chat on the customer's phone: what they wrote, and everything they received."""
    messages = []
    for entry in people.transcript(world, account, customer.external_userid):
        if entry["from"] == "event":
            continue
        mine = entry["from"] == "customer"
        userid = entry.get("servicer_userid", "")
        messages.append(
            _message(
                entry["msgid"],
                entry["send_time"],
                entry["msgtype"],
                entry["body"],
                side="me" if mine else "them",
                recalled=entry["recalled"],
                source=entry.get("source", "servicer" if userid else ""),
                sender=_member_name(world, account.corpid, userid) if userid else "",
                code_kind=CODE_KINDS.get(entry.get("code_kind", ""), ""),
            )
        )
    return {**_header(world, account, customer), "messages": messages}


def _status_note(world: World, corpid: str, event: dict[str, Any]) -> str:
    def name(key: str) -> str:
        return _member_name(world, corpid, event.get(key, ""))

    change = event.get("change_type")
    notes = {
        1: lambda: f"{name('new_servicer_userid')} 从待接入池接入会话",
        2: lambda: f"{name('old_servicer_userid')} 将会话转接给 {name('new_servicer_userid')}",
        3: lambda: f"{name('old_servicer_userid')} 结束了会话",
        4: lambda: f"{name('new_servicer_userid')} 重新接入会话",
    }
    return notes[change]() if change in notes else f"会话状态变更（change_type {change}）"


def _event_note(world: World, corpid: str, event: dict[str, Any]) -> str:
    kind = event.get("event_type")
    if kind == "enter_session":
        scene = event.get("scene")
        return f"客户进入会话（场景 {scene}）" if scene else "客户进入会话"
    if kind == "session_status_change":
        return _status_note(world, corpid, event)
    if kind == "msg_send_fail":
        return f"消息发送失败（fail_type {event.get('fail_type')}）"
    if kind == "reject_customer_msg_switch_change":
        return "已拒收客户消息" if event.get("reject_switch") == 1 else "已恢复接收客户消息"
    return ""


def session_view(world: World, account: Account, customer: Customer) -> dict[str, Any]:
    """A session as the servicer sees it: the customer, API/AI sends, servicer replies, notes."""
    transcript = people.transcript(world, account, customer.external_userid)
    ordered: list[tuple[float, dict[str, Any]]] = []
    for entry in transcript:
        at = entry["send_time"]
        if entry["from"] == "event":
            if note := _event_note(world, account.corpid, entry["body"]):
                ordered.append(
                    (entry["seq"], {"id": entry["msgid"], "time": at, "kind": "note", "text": note})
                )
            continue
        userid = entry.get("servicer_userid", "")
        if entry["from"] == "api":
            label = "API 事件消息" if entry.get("source") == "send_msg_on_event" else "API 消息"
            kind_name = CODE_KINDS.get(entry.get("code_kind", ""), "")
            sender = f"{label}·{kind_name}" if kind_name else label
        else:
            sender = _member_name(world, account.corpid, userid) if userid else customer.nickname
        message = _message(
            entry["msgid"],
            at,
            entry["msgtype"],
            entry["body"],
            kind=entry["from"],
            recalled=entry["recalled"],
            sender=sender,
        )
        ordered.append((entry["seq"], message))
    ordered.extend(_api_moves(world, account, customer, transcript))
    ordered.sort(key=lambda pair: pair[0])
    return {
        **_header(world, account, customer),
        "servicers": _servicers(world, world.corps[account.corpid], account),
        "messages": [message for _order, message in ordered],
    }


def _api_moves(
    world: World, account: Account, customer: Customer, transcript: list[dict[str, Any]]
) -> list[tuple[float, dict[str, Any]]]:
    """Notes for the session's API moves and 48 h expiries, each with a position in the
    transcript's sequence: after the items of its second, before the next servicer move
    (servicer moves are `session_status_change` events, in the same order as the history)."""
    key = (account.open_kfid, customer.external_userid)
    history = world.sessions[key].history if key in world.sessions else []
    status_seqs = iter(
        e["seq"]
        for e in transcript
        if e["from"] == "event" and e["body"].get("event_type") == "session_status_change"
    )
    anchors = [next(status_seqs, None) if move.by == "servicer" else None for move in history]
    notes = []
    for index, move in enumerate(history):
        if move.by not in ("api", "expiry"):
            continue
        before = max((a for a in anchors[:index] if a is not None), default=0)
        after = min((a for a in anchors[index:] if a is not None), default=float("inf"))
        seqs = [e["seq"] for e in transcript if e["send_time"] <= move.at and e["seq"] < after]
        position = max([before, *seqs]) + 0.5 + index / 1000  # keeps moves of one gap in order
        who = (
            f"（{_member_name(world, account.corpid, move.servicer_userid)}）" if move.servicer_userid else ""
        )
        cause = "API 变更会话状态" if move.by == "api" else "48 小时到期"
        text = f"{cause}：{STATE_NAMES[move.from_state]} → {STATE_NAMES[move.to_state]}{who}"
        notes.append((position, _note(f"move-{index}", move.at, text)))
    return notes


def _preview(world: World, account: Account, external_userid: str) -> tuple[str, int]:
    """The last message of the pair as a one-line preview, and its time."""
    for entry in reversed(people.transcript(world, account, external_userid)):
        if entry["from"] != "event":
            return _preview_text(entry["msgtype"], entry["body"]), entry["send_time"]
    return "", 0


def _preview_text(msgtype: str, body: dict[str, Any]) -> str:
    if msgtype == "text":
        return str(body.get("content", ""))[:40]
    if msgtype == "msgmenu":
        return str(body.get("head_content") or PREVIEW_TAGS["msgmenu"])[:40]
    return PREVIEW_TAGS.get(msgtype, f"[{msgtype}]")


def _waiting_since(session: Session) -> int:
    return next((h.at for h in reversed(session.history) if h.to_state == 2), session.started_at)


def servicer_view(world: World, corp: Corp, userid: str) -> dict[str, Any]:
    """What the WeCom app shows a servicer: my sessions, the waiting pool, sessions I served."""
    member = corp.members.get(userid)
    if member is None:
        raise ControlError(404, f"no member {userid} in corp {corp.corpid}")
    accounts = [world.accounts[k] for k in corp.account_ids]
    accounts = [a for a in accounts if world.member_is_servicer(a, userid)]
    lists: dict[str, list[dict[str, Any]]] = {"mine": [], "pool": [], "served": []}
    for account in accounts:
        for open_kfid, external_userid in [k for k in world.sessions if k[0] == account.open_kfid]:
            session = world.session(open_kfid, external_userid)  # applies the lazy 48 h expiry
            customer = world.customers[external_userid]
            text, at = _preview(world, account, external_userid)
            summary = {
                "open_kfid": open_kfid,
                "account_name": account.name,
                "external_userid": external_userid,
                "nickname": customer.nickname,
                "state": session.state,
                "state_name": STATE_NAMES[session.state],
                "servicer_name": _member_name(world, corp.corpid, session.servicer_userid)
                if session.servicer_userid
                else "",
                "preview": text,
                "last_at": at,
            }
            if session.state == 3 and session.servicer_userid == userid:
                lists["mine"].append(summary)
            elif session.state == 2:
                lists["pool"].append({**summary, "waiting_since": _waiting_since(session)})
            elif any(h.servicer_userid == userid for h in session.history):
                lists["served"].append(summary)
    lists["pool"].sort(key=lambda s: s["waiting_since"])
    for name in ("mine", "served"):
        lists[name].sort(key=lambda s: -s["last_at"])
    return {
        "version": world.version,
        "now": world.now(),
        "corpid": corp.corpid,
        "corp_name": corp.name,
        "me": _member_view(member),
        "accounts": [{"open_kfid": a.open_kfid, "name": a.name} for a in accounts],
        **lists,
    }
