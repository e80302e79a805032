"""The simulator's pages: a WeChat-like customer page, a WeCom-like servicer page, an index.

Pages are plain HTML (Jinja2) plus small vanilla JS from `static/` (no CDN, no build
step). They act through the control API (`/_sim/api/...`) and read the world through
the views below (`/_sim/ui/...`), which shape it for display: a chat as the customer
sees it, a session as the servicer sees it, a servicer's lists. The pages poll the
views about once a second; a view answers `{"unchanged": true}` while the world's
version equals `since`, so an idle page costs almost nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from kefu.simulator import people
from kefu.simulator.control import account_of, corp_of
from kefu.simulator.deps import SimDep
from kefu.simulator.errors import ControlError
from kefu.simulator.state import Account, Corp, Customer, Session, StreamItem, World

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
# Cache-busting suffix for static URLs: changes whenever a static file changes.
ASSET_VERSION = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(STATIC_DIR.glob("*")) if p.is_file())
).hexdigest()[:10]

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

router = APIRouter(include_in_schema=False)
router.mount("/_sim/static", StaticFiles(directory=STATIC_DIR), name="sim_static")


# -- HTML pages -------------------------------------------------------------------


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"v": ASSET_VERSION, **context})


@router.get("/_sim")
async def sim_root() -> RedirectResponse:
    return RedirectResponse("/_sim/")


@router.get("/_sim/", response_class=HTMLResponse)
async def index_page(request: Request, sim: SimDep) -> HTMLResponse:
    with sim.world.lock:
        directory = directory_view(sim.world)
    return _page(request, "index.html", corps=directory["corps"], state_names=STATE_NAMES)


@router.get("/_sim/customer", response_class=HTMLResponse)
async def customer_page(request: Request) -> HTMLResponse:
    return _page(request, "customer.html")


@router.get("/_sim/servicer", response_class=HTMLResponse)
async def servicer_page(request: Request) -> HTMLResponse:
    return _page(request, "servicer.html")


# -- JSON views for the pages ----------------------------------------------------------


def _unchanged(world: World, since: int | None) -> dict[str, Any] | None:
    return {"version": world.version, "unchanged": True} if since == world.version else None


@router.get("/_sim/ui/directory")
async def directory(sim: SimDep, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or directory_view(sim.world)


@router.get("/_sim/ui/chat")
async def chat(sim: SimDep, customer: str, account: str, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or chat_view(sim.world, *_pair(sim.world, account, customer))


@router.get("/_sim/ui/session")
async def session(sim: SimDep, customer: str, account: str, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or session_view(sim.world, *_pair(sim.world, account, customer))


@router.get("/_sim/ui/servicer")
async def servicer(sim: SimDep, corpid: str, userid: str, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or servicer_view(sim.world, corp_of(sim.world, corpid), userid)


@router.get("/_sim/ui/media/{media_id}")
async def media(sim: SimDep, media_id: str) -> Response:
    """Show a customer's image, or one Kefu uploaded with media/upload."""
    with sim.world.lock:
        found = sim.world.media.get(media_id)
    if found is None:
        raise ControlError(404, f"no media {media_id}")
    return Response(found.data, media_type=found.content_type)


# -- building the views (callers hold world.lock) ------------------------------------------


def _pair(world: World, open_kfid: str, external_userid: str) -> tuple[Account, Customer]:
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


def _entries(account: Account, external_userid: str) -> list[StreamItem]:
    """This customer's part of the account's stream (messages carry the id at the top,
    events inside `event`)."""
    return [
        e
        for e in account.stream
        if (e.item.get("external_userid") or e.item.get("event", {}).get("external_userid"))
        == external_userid
    ]


def _recalled(entries: list[StreamItem]) -> set[str]:
    kinds = ("user_recall_msg", "servicer_recall_msg")
    return {
        e.item["event"]["recall_msgid"] for e in entries if e.item.get("event", {}).get("event_type") in kinds
    }


def _message(msgid: str, at: int, msgtype: str, body: Any, **extra: Any) -> dict[str, Any]:
    return {"id": msgid, "time": at, "msgtype": msgtype, "body": body, **extra}


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


def chat_view(world: World, account: Account, customer: Customer) -> dict[str, Any]:
    """The chat on the customer's phone: what they wrote, and everything they received."""
    entries = _entries(account, customer.external_userid)
    recalled = _recalled(entries)
    seq_of = {e.item.get("msgid"): e.seq for e in entries}
    ordered: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for entry in entries:
        item = entry.item
        if item.get("origin") == 3:
            message = _message(
                item["msgid"],
                item["send_time"],
                item["msgtype"],
                item.get(item["msgtype"]),
                side="me",
                recalled=item["msgid"] in recalled,
            )
            ordered.append(((item["send_time"], 0, entry.seq), message))
    for index, got in enumerate(people.received(world, customer.external_userid, account.open_kfid)):
        sender = _member_name(world, account.corpid, got.servicer_userid) if got.servicer_userid else ""
        message = _message(
            got.msgid,
            got.send_time,
            got.msgtype,
            got.body,
            side="them",
            recalled=got.recalled,
            source=got.source,
            sender=sender,
            code_kind=CODE_KINDS.get(got.code_kind, got.code_kind),
        )
        # Servicer replies are in the stream too (exact order); API sends are not, so within
        # one second they follow what the customer wrote (they usually answer it).
        seq = seq_of.get(got.msgid)
        ordered.append(((got.send_time, 0, seq) if seq else (got.send_time, 1, index), message))
    ordered.sort(key=lambda pair: pair[0])
    return {
        "version": world.version,
        "now": world.now(),
        "account": {"open_kfid": account.open_kfid, "name": account.name},
        "customer": {"external_userid": customer.external_userid, "nickname": customer.nickname},
        "session": _session_state(world, account, customer),
        "messages": [message for _order, message in ordered],
    }


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
    entries = _entries(account, customer.external_userid)
    recalled = _recalled(entries)
    ordered: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for entry in entries:
        item, at = entry.item, entry.send_time
        if item.get("origin") in (3, 5):
            userid = item.get("servicer_userid", "")
            message = _message(
                item["msgid"],
                at,
                item["msgtype"],
                item.get(item["msgtype"]),
                kind="customer" if item["origin"] == 3 else "servicer",
                recalled=item["msgid"] in recalled,
                sender=_member_name(world, account.corpid, userid) if userid else customer.nickname,
            )
            ordered.append(((at, 0, entry.seq), message))
        elif note := _event_note(world, account.corpid, item.get("event", {})):
            ordered.append(
                ((at, 0, entry.seq), {"id": item["msgid"], "time": at, "kind": "note", "text": note})
            )
    for index, got in enumerate(people.received(world, customer.external_userid, account.open_kfid)):
        if got.source == "servicer":
            continue  # already in the stream (origin 5)
        label = "API 事件消息" if got.source == "send_msg_on_event" else "API 消息"
        kind_name = CODE_KINDS.get(got.code_kind, got.code_kind)
        message = _message(
            got.msgid,
            got.send_time,
            got.msgtype,
            got.body,
            kind="api",
            recalled=got.recalled,
            sender=f"{label}·{kind_name}" if kind_name else label,
        )
        ordered.append(((got.send_time, 1, index), message))
    key = (account.open_kfid, customer.external_userid)
    history = world.sessions[key].history if key in world.sessions else []
    for index, move in enumerate(history):
        if move.by in ("api", "expiry"):
            who = (
                f"（{_member_name(world, account.corpid, move.servicer_userid)}）"
                if move.servicer_userid
                else ""
            )
            text = f"{'API 变更会话状态' if move.by == 'api' else '48 小时到期'}：{STATE_NAMES[move.from_state]} → {STATE_NAMES[move.to_state]}{who}"
            ordered.append(
                ((move.at, 2, index), {"id": f"h{index}", "time": move.at, "kind": "note", "text": text})
            )
    ordered.sort(key=lambda pair: pair[0])
    return {
        "version": world.version,
        "now": world.now(),
        "account": {"open_kfid": account.open_kfid, "name": account.name},
        "customer": {"external_userid": customer.external_userid, "nickname": customer.nickname},
        "session": _session_state(world, account, customer),
        "servicers": _servicers(world, world.corps[account.corpid], account),
        "messages": [message for _order, message in ordered],
    }


def _preview(world: World, account: Account, external_userid: str) -> tuple[str, int]:
    """The last message of the pair as a one-line preview, and its time."""
    text, at = "", 0
    for entry in _entries(account, external_userid):
        if entry.item.get("origin") in (3, 5) and entry.send_time >= at:
            text, at = _preview_text(entry.item["msgtype"], entry.item), entry.send_time
    for got in people.received(world, external_userid, account.open_kfid):
        if got.source != "servicer" and got.send_time >= at:
            text, at = _preview_text(got.msgtype, {got.msgtype: got.body}), got.send_time
    return text, at


def _preview_text(msgtype: str, item: dict[str, Any]) -> str:
    body = item.get(msgtype) or {}
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
