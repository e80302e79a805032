"""Messages and sessions: `kf/sync_msg`, `kf/send_msg`, `kf/send_msg_on_event`,
`kf/service_state/get|trans` (§3, §5, §6, §7)."""

from __future__ import annotations

from typing import Any

from kefu.simulator import sending, sessions, stream
from kefu.simulator.api_base import Call, endpoint
from kefu.simulator.errors import WeComError, ok


@endpoint("kf/sync_msg")
def sync_msg(call: Call) -> dict[str, Any]:
    world, body = call.world, call.body
    # §3.1 CONFLICT: the current doc requires open_kfid; missing → 40058 (our choice).
    account = world.account_for(call.corp, body.get("open_kfid"))
    token = body.get("token")
    if token:
        sync_token = world.sync_tokens.get(token) if isinstance(token, str) else None
        if sync_token is None or sync_token.corpid != call.corp.corpid or call.now >= sync_token.expires_at:
            raise WeComError(95007)
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str) or len(cursor.encode()) > 64:
        raise WeComError(40058, "cursor: a string of at most 64 bytes")
    limit = body.get("limit") or stream.MAX_LIMIT
    if not isinstance(limit, int) or limit < 0:
        raise WeComError(40058, "limit must be an unsigned integer")
    if body.get("voice_format", 0) not in (0, 1):
        raise WeComError(40058, "voice_format must be 0 or 1")
    limit = min(limit, stream.MAX_LIMIT)
    if stream.has_items_after(world, account, cursor) and call.faults.empty_page():
        # §3.2: has_more may be 1 with an empty list; the position does not move.
        position = cursor or stream.encode_cursor(account, 0)
        return ok(next_cursor=position, has_more=1, msg_list=[])
    items, next_cursor, has_more = stream.page(world, account, cursor, limit)
    return ok(next_cursor=next_cursor, has_more=int(has_more), msg_list=items)


@endpoint("kf/send_msg")
def send_msg(call: Call) -> dict[str, Any]:
    return ok(msgid=sending.send_msg(call.world, call.corp, call.body))


@endpoint("kf/send_msg_on_event")
def send_msg_on_event(call: Call) -> dict[str, Any]:
    return ok(msgid=sending.send_msg_on_event(call.world, call.corp, call.body))


@endpoint("kf/service_state/get")
def service_state_get(call: Call) -> dict[str, Any]:
    account = call.world.account_for(call.corp, call.body.get("open_kfid"))
    customer = call.world.customer_for(call.corp, call.body.get("external_userid"))
    session = call.world.session(account.open_kfid, customer.external_userid)
    if session.state == 3:
        return ok(service_state=3, servicer_userid=session.servicer_userid)
    return ok(service_state=session.state)


@endpoint("kf/service_state/trans")
def service_state_trans(call: Call) -> dict[str, Any]:
    account = call.world.account_for(call.corp, call.body.get("open_kfid"))
    customer = call.world.customer_for(call.corp, call.body.get("external_userid"))
    if "service_state" not in call.body:
        raise WeComError(40058, "service_state missing")
    session = call.world.session(account.open_kfid, customer.external_userid)
    servicer = call.body.get("servicer_userid") or ""
    code = sessions.trans(call.world, call.corp, account, session, call.body["service_state"], str(servicer))
    return ok(msg_code=code) if code else ok()
