"""The chaos run's verdict: the simulator's record (every send call, every session move) against
Kefu's database. Each count is a broken promise; the target for all of them is zero.

- lost: a customer message the simulator accepted that Kefu never stored, or stored and never
  processed (`messages.processed_at` still empty once the backlog drained).
- processed_twice: a customer message stored twice, or decided twice (its outbox rows carry
  `message_id`; one decision writes all of its rows in one transaction, at one `created_at`).
- duplicate_replies: the same reply accepted by WeCom twice for one customer message: two
  accepted sends of one msgid, or two accepted sends of the same body for one message.
- over_cap_assignments: a move to 人工 (state 3) *made through the API* (that is, by Kefu) that
  gave a servicer more sessions at once than their cap; the simulator's session histories,
  merged by their world sequence, replay every servicer's load.
- stuck_sessions: at the end, a session WeCom shows as 未处理 (0: nobody ever answered), in the
  pool (2) while one of the account's servicers has room, or in a state Kefu's mirror disagrees
  with. The drain waits for the mirror first (`MIRROR_QUERY`): a session change whose callback
  was dropped reaches Kefu only at its next poll, so a mirror behind for a few seconds is not
  stuck; one still behind when the drain times out is.
"""

from __future__ import annotations

import collections
import json
from typing import Any

from sqlalchemy import create_engine, text

from kefu.simulator import SimulatorServer

SERVICERS_PER_ACCOUNT = 2  # as chaos_world.py
MIRROR_QUERY = text(
    "SELECT a.open_kfid, c.external_userid, c.wecom_state FROM conversations c"
    " JOIN kf_accounts a ON a.id = c.account_id"
)


def check(
    sim: SimulatorServer,
    database_url: str,
    *,
    sent: list[dict[str, str]],
    accounts: list[str],
    cap: int,
) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT m.id, m.msgid, m.processed_at, a.open_kfid FROM messages m"
                    " JOIN kf_accounts a ON a.id = m.account_id WHERE m.origin = 3"
                )
            ).all()
            actions = conn.execute(
                text("SELECT id, kind, payload, msgid, status, created_at FROM conversation_actions")
            ).all()
            mirrors = conn.execute(MIRROR_QUERY).all()
            jobs = dict(conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all())
    finally:
        engine.dispose()
    with sim.state.lock:
        sends = [vars(s).copy() for s in sim.state.sends]
    sessions = {kfid: sim.control("GET", f"accounts/{kfid}/sessions")["sessions"] for kfid in accounts}
    result: dict[str, Any] = {}
    result.update(_lost_and_twice(sent, stored, actions))
    result.update(_replies(sends, actions))
    result["over_cap_assignments"] = _over_cap(sessions, cap)
    result.update(_stuck(sessions, mirrors, cap))
    result["jobs"] = {str(k): int(v) for k, v in jobs.items()}
    result["actions"] = dict(collections.Counter(str(a.status) for a in actions))
    return result


def _lost_and_twice(sent: list[dict[str, str]], stored: list[Any], actions: list[Any]) -> dict[str, Any]:
    rows = collections.defaultdict(list)
    for row in stored:
        rows[(row.open_kfid, row.msgid)].append(row)
    lost = [
        m["msgid"]
        for m in sent
        if not any(r.processed_at for r in rows.get((m["open_kfid"], m["msgid"]), []))
    ]
    stored_twice = sum(len(found) - 1 for found in rows.values() if len(found) > 1)
    decisions = collections.defaultdict(set)
    for action in actions:
        message_id = _payload(action).get("message_id")
        if message_id is not None:
            decisions[message_id].add(str(action.created_at))
    decided_twice = sum(1 for times in decisions.values() if len(times) > 1)
    return {
        "lost": len(lost),
        "lost_msgids": lost[:20],
        "processed_twice": stored_twice + decided_twice,
        "stored_twice": stored_twice,
        "decided_twice": decided_twice,
    }


def _replies(sends: list[dict[str, Any]], actions: list[Any]) -> dict[str, Any]:
    by_msgid = {a.msgid: a for a in actions if a.msgid}
    accepted = [
        s
        for s in sends
        if s["endpoint"] in ("kf/send_msg", "kf/send_msg_on_event") and s["errcode"] == 0 and not s["fault"]
    ]
    per_msgid = collections.Counter(s["requested_msgid"] for s in accepted if s["requested_msgid"])
    same_msgid = sum(n - 1 for n in per_msgid.values() if n > 1)
    per_reply: collections.Counter[tuple[Any, ...]] = collections.Counter()
    unattributed = 0
    for s in accepted:
        action = by_msgid.get(s["requested_msgid"])
        if action is None:
            unattributed += 1
            continue
        message_id = _payload(action).get("message_id")
        if message_id is not None:
            body = {k: v for k, v in s["request"].items() if k not in ("msgid", "code")}
            per_reply[(message_id, repr(sorted(body.items())))] += 1
    same_body = sum(n - 1 for n in per_reply.values() if n > 1)
    refusals = sum(
        1 for s in sends if s["errcode"] == 40058 and s["requested_msgid"] in by_msgid and not s["fault"]
    )
    return {
        "duplicate_replies": same_msgid + same_body,
        "replies_accepted": len(accepted),
        "unattributed_sends": unattributed,
        "duplicate_msgid_refusals": refusals,  # a redo after a lost answer, refused by WeCom: safe
        "send_calls": len(sends),
        "send_faults": sum(1 for s in sends if s["fault"]),
        # Refused by the rules (not injected): e.g. 95018 when the session moved meanwhile.
        "send_refusals": dict(
            collections.Counter(str(s["errcode"]) for s in sends if s["errcode"] and not s["fault"])
        ),
    }


def _over_cap(sessions: dict[str, list[dict[str, Any]]], cap: int) -> int:
    over = 0
    for found in sessions.values():
        moves = sorted(
            ((h, s["external_userid"]) for s in found for h in s.get("history", [])),
            key=lambda pair: pair[0]["seq"],
        )
        holder: dict[str, str | None] = {}  # customer → servicer holding them in state 3
        load: collections.Counter[str] = collections.Counter()
        for move, customer in moves:
            previous = holder.get(customer)
            if previous is not None:
                load[previous] -= 1
            holder[customer] = move["servicer_userid"] if move["to_state"] == 3 else None
            taker = holder[customer]
            if taker is not None:
                load[taker] += 1
                if move["by"] == "api" and load[taker] > cap:
                    over += 1
    return over


def mirror_behind(sessions: dict[str, list[dict[str, Any]]], mirrors: list[Any]) -> int:
    """Sessions whose state in WeCom Kefu's mirror does not show (yet)."""
    kefu_state = _kefu_states(mirrors)
    return sum(
        1
        for kfid, found in sessions.items()
        for s in found
        if kefu_state.get((kfid, s["external_userid"]), 4) != s["state"]
    )


def _kefu_states(mirrors: list[Any]) -> dict[tuple[str, str], int]:
    return {(m.open_kfid, m.external_userid): int(m.wecom_state) for m in mirrors}


def _stuck(sessions: dict[str, list[dict[str, Any]]], mirrors: list[Any], cap: int) -> dict[str, Any]:
    kefu_state = _kefu_states(mirrors)
    unanswered = pooled_with_room = mismatched = 0
    examples: list[str] = []
    for kfid, found in sessions.items():
        load = collections.Counter(s["servicer_userid"] for s in found if s["state"] == 3)
        room = any(n < cap for n in load.values()) or len(load) < SERVICERS_PER_ACCOUNT
        for s in found:
            state, who = s["state"], s["external_userid"]
            if state == 0:
                unanswered += 1
            elif state == 2 and room:
                pooled_with_room += 1
            elif kefu_state.get((kfid, who), 4) != state:
                mismatched += 1
            else:
                continue
            if len(examples) < 10:
                examples.append(f"{kfid}/{who}: WeCom {state}, Kefu {kefu_state.get((kfid, who))}")
    return {
        "stuck_sessions": unanswered + pooled_with_room + mismatched,
        "stuck_unanswered": unanswered,
        "stuck_pooled_with_room": pooled_with_room,
        "stuck_mirror_mismatch": mismatched,
        "stuck_examples": examples,
    }


def _payload(action: Any) -> dict[str, Any]:
    """JSON columns come back as text from SQLite over a plain SELECT."""
    value = action.payload
    return json.loads(value) if isinstance(value, str) else (value or {})
