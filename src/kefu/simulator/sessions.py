"""The session state machine per (open_kfid, external_userid) and event codes (§6, §7).

States: 0 未处理, 1 智能助手, 2 排队中, 3 人工, 4 已结束/未开始. A session starts
at 4; a customer message in 4 starts a new one at 0; a session lasts at most
48 h (see `World.session`). `trans` follows the table in docs/simulator.md.
"""

from __future__ import annotations

import secrets

from kefu.simulator.errors import WeComError
from kefu.simulator.state import (
    WINDOW_S,
    Account,
    Corp,
    EventCode,
    HistoryEntry,
    Session,
    World,
)

# §7.4: moves the doc's option text allows, and the moves only one third-party
# summary lists (UNCONFIRMED: allowed or refused with 95016 by a setting).
ALLOWED: dict[int, set[int]] = {0: {1, 2, 3}, 1: {2, 3}, 2: {3}, 3: {3, 4}}
UNCONFIRMED: dict[int, set[int]] = {0: {4}, 1: {1, 4}, 2: {2, 4}}

# §6: validity and allowed msgtypes of each kind of event code.
CODE_TTL_S = {"welcome": 20, "pool": WINDOW_S, "taken": WINDOW_S, "ending": 20}
CODE_TYPES = {
    "welcome": {"text", "msgmenu"},
    "pool": {"text"},
    "taken": {"text"},
    "ending": {"text", "msgmenu"},
}


def issue_code(world: World, session: Session, kind: str) -> str:
    code = secrets.token_urlsafe(32)
    world.codes[code] = EventCode(
        code=code,
        kind=kind,
        open_kfid=session.open_kfid,
        external_userid=session.external_userid,
        session_no=session.session_no,
        state=session.state,
        expires_at=world.now() + CODE_TTL_S[kind],
    )
    return code


def move(world: World, session: Session, to_state: int, by: str, servicer: str = "", note: str = "") -> None:
    """Change state and record it; servicer_userid is kept only in state 3."""
    session.history.append(
        HistoryEntry(world.now(), session.state, to_state, by, servicer, note, world.next_move_seq())
    )
    session.state = to_state
    session.servicer_userid = servicer if to_state == 3 else ""
    world.touch()


def start_new_session(world: World, session: Session) -> None:
    session.session_no += 1
    session.started_at = world.now()
    session.entered_pool = False
    session.entered_human = False


def customer_wrote(world: World, session: Session) -> None:
    """A customer message: 4 → 0 (new session); reopens the 48 h window and the 5-send quota."""
    if session.state == 4:
        start_new_session(world, session)
        move(world, session, 0, "customer")
    session.last_customer_msg_at = world.now()
    session.sends_since_customer_msg = 0


def welcome_allowed(world: World, session: Session) -> bool:
    """§4.1: no welcome received and no message written in the last 48 h."""
    now = world.now()
    if session.last_welcome_at is not None and now - session.last_welcome_at < WINDOW_S:
        return False
    return session.last_customer_msg_at is None or now - session.last_customer_msg_at >= WINDOW_S


def check_receptionist(world: World, corp: Corp, account: Account, userid: str) -> None:
    """Target-3 checks of §7.3: listed and activated (95014), 接待中 (95019)."""
    member = corp.members.get(userid)
    if member is None or not member.activated or not world.member_is_servicer(account, userid):
        raise WeComError(95014)
    if member.status != 0:
        raise WeComError(95019)


def trans(world: World, corp: Corp, account: Account, session: Session, target: object, servicer: str) -> str:
    """`kf/service_state/trans`; returns the msg_code ("" when none is issued)."""
    if not isinstance(target, int) or isinstance(target, bool) or target not in range(5):
        raise WeComError(40058, "service_state must be 0..4")
    if session.state == 4:
        raise WeComError(95013)
    allowed = target in ALLOWED.get(session.state, set()) or (
        world.settings.allow_unconfirmed_moves and target in UNCONFIRMED.get(session.state, set())
    )
    if not allowed:
        raise WeComError(95016)
    if target == 3:
        if not servicer:
            raise WeComError(40058, "servicer_userid missing")  # UNCONFIRMED choice (§7.5)
        check_receptionist(world, corp, account, servicer)
        if session.state == 3 and servicer == session.servicer_userid:
            raise WeComError(95016, "already served by this servicer")
    move(world, session, target, "api", servicer if target == 3 else "")
    # Our reading of "first moved to 2 or 3": the first entry into 2, and the first
    # entry into 3, within one session each return a code; every entry into 4 does.
    if target == 2 and not session.entered_pool:
        session.entered_pool = True
        return issue_code(world, session, "pool")
    if target == 3 and not session.entered_human:
        session.entered_human = True
        return issue_code(world, session, "taken")
    if target == 4:
        return issue_code(world, session, "ending")
    return ""


def use_code(world: World, code_text: object, msgtype: str) -> EventCode:
    """Check a send_msg_on_event code (errcodes are our documented UNCONFIRMED choices)."""
    code = world.codes.get(code_text) if isinstance(code_text, str) else None
    if code is None:
        raise WeComError(95007, "unknown code")
    if code.used:
        raise WeComError(95007, "code already used")
    if world.now() >= code.expires_at:
        raise WeComError(95007, "code expired")
    session = world.session(code.open_kfid, code.external_userid)
    if code.kind != "welcome" and (session.session_no != code.session_no or session.state != code.state):
        raise WeComError(95018, "session left the state the code was issued in")
    if msgtype not in CODE_TYPES[code.kind]:
        raise WeComError(40008, f"{code.kind} code allows {sorted(CODE_TYPES[code.kind])}")
    return code
