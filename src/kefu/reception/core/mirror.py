"""The working context of one decide() call: the mirror's moves, gated sends, timeline notes.

Every send goes through `send` / `send_on_event`, which refuse what WeCom would
refuse; every state change goes through `move`, `start_session` or `end_session`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from kefu.reception.core.actions import (
    Action,
    Content,
    Menu,
    Phrase,
    Purpose,
    RecordRouting,
    Send,
    SendOnEvent,
    Text,
    TimelineEntry,
    Transfer,
)
from kefu.reception.core.messages import phrase_for
from kefu.reception.core.settings import AccountSettings
from kefu.reception.core.state import (
    KEEP_RECENT_SESSIONS,
    LONG_CODE_TTL,
    OWNER_OF_STATE,
    SENDABLE_STATES,
    SHORT_CODE_TTL,
    STATE_AI,
    STATE_ENDED,
    STATE_HUMAN,
    STATE_NEW,
    STATE_POOL,
    CodeKind,
    ConversationState,
    EndedSession,
    EventCode,
    SessionKind,
    Transition,
)
from kefu.routing.core import (
    Roster,
    RoutingDecision,
    behind_the_line,
    by_person,
    choose,
    for_reserved,
    in_app,
)

CODE_TTL: dict[CodeKind, timedelta] = {
    "welcome": SHORT_CODE_TTL,
    "pool": LONG_CODE_TTL,
    "taken": LONG_CODE_TTL,
    "ending": SHORT_CODE_TTL,
}

# Reset when a session starts or ends.
SESSION_FLAGS: dict[str, Any] = {
    "off_hours_notified": False,
    "paused_notified": False,
    "waiting_for_opening": False,
    "not_sure_streak": 0,
    "pool_notice_sent": False,
    "taken_notice_sent": False,
    "served": False,
    "awaiting_reply_since": None,
    "no_reply_notice_sent": False,
    "refused_servicers": [],
    "refused_requests": 0,
    "reserved_for": None,
    "reserved_off_duty": False,
    "queue_timeout": False,
    "timeout_message_sent": False,
    "leaving_message": None,
    "pending_transition": None,
    "ended_locally": False,
}


class RosterNeeded(Exception):
    """decide() was given no roster (None) and this inbound needs one: load it, decide again."""


@dataclass
class Context:
    state: ConversationState
    settings: AccountSettings
    loaded_roster: Roster | None  # None: not loaded (most inbounds never route)
    now: datetime
    actions: list[Action] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def roster(self) -> Roster:
        if self.loaded_roster is None:
            raise RosterNeeded
        return self.loaded_roster

    @roster.setter
    def roster(self, value: Roster) -> None:
        self.loaded_roster = value

    # --- bookkeeping -------------------------------------------------------------------------

    def update(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    def note(self, kind: str, **detail: str | int | bool | None) -> None:
        self.timeline.append(TimelineEntry(at=self.now, kind=kind, detail=detail))

    # --- states ------------------------------------------------------------------------------

    def move(self, to_state: int, *, servicer: str | None = None, reason: str) -> None:
        """The mirror follows WeCom into `to_state` (servicer kept in 3 only)."""
        before = self.state.wecom_state
        servicer = servicer if to_state == STATE_HUMAN else None
        if before == to_state and self.state.servicer_userid == servicer:
            return
        self.update(wecom_state=to_state, owner=OWNER_OF_STATE[to_state], servicer_userid=servicer)
        # A servicer who just got the session owes the customer a word; nobody else does.
        self.update(awaiting_reply_since=self.now if to_state == STATE_HUMAN else None)
        if to_state == STATE_HUMAN:
            # What they write now is the servicer's to answer, not a 留言 left for servicers
            # (what they left before is kept in its follow-up).
            self.update(leaving_message=None, served=True)
        if to_state == STATE_POOL and before != STATE_POOL:
            self.update(queued_at=self.now)
        elif to_state != STATE_POOL:
            # Out of the pool: a queue timeout on its way, or told already, no longer applies.
            self.update(
                queued_at=None,
                reserved_for=None,
                reserved_off_duty=False,
                queue_timeout=False,
                timeout_message_sent=False,
            )
        self.note("state_changed", from_state=before, to_state=to_state, servicer=servicer, reason=reason)

    def start_session(self, at: datetime | None, *, kind: SessionKind, reason: str) -> None:
        """A new session (4 → 0, a servicer re-taking an ended one, or a customer writing after Kefu
        ended a session WeCom kept open: then `at` is None and WeCom's session clock runs on)."""
        self.update(
            session_no=self.state.session_no + 1,
            session_started_at=self.state.session_started_at if at is None else at,
            session_kind=kind,
            **SESSION_FLAGS,
        )
        self.note("session_started", session_no=self.state.session_no, session_kind=kind, reason=reason)

    def end_session(self, *, reason: str, servicer: str | None, in_wecom: bool = True) -> None:
        """The session ends; it is remembered for a later rating click.

        `in_wecom` False: WeCom refused to end it (95016), so only Kefu's records end it and
        the mirror keeps WeCom's state 0/1 (`ended_locally`) until the customer writes again.
        """
        state = self.state
        recorded = not state.ended_locally  # a session Kefu already closed is not closed twice
        if recorded:
            ended = EndedSession(
                session_no=state.session_no,
                servicer_userid=servicer,
                ended_at=self.now,
                kind=state.session_kind,
                queue_timeout=state.queue_timeout,
                # In state 3 now counts too: a session taken before `served` was recorded.
                served=state.served or state.wecom_state == STATE_HUMAN,
                ending_sent=state.timeout_message_sent,  # the customer read their wait was over
            )
            recent = [s for s in state.recent_sessions if s.session_no != ended.session_no]
            self.update(recent_sessions=[*recent, ended][-KEEP_RECENT_SESSIONS:], **SESSION_FLAGS)
        if in_wecom:
            self.update(ended_locally=False)
            self.move(STATE_ENDED, reason=reason)
        else:
            self.update(ended_locally=True, owner="none")
        if recorded:
            self.note("session_ended", session_no=state.session_no, servicer=servicer, reason=reason)

    def expire(self, at: datetime) -> None:
        """WeCom ends a session 48 h after it started, without an event: follow it."""
        expires = self.state.session_expires_at()
        if expires is not None and at >= expires:
            self.end_session(reason="expired_48h", servicer=self.state.servicer_userid)

    def replace_ended(self, session_no: int, **changes: Any) -> None:
        self.update(
            recent_sessions=[
                s.model_copy(update=changes) if s.session_no == session_no else s
                for s in self.state.recent_sessions
            ]
        )

    # --- sending -----------------------------------------------------------------------------

    def send(self, purpose: Purpose, content: Text | Phrase | Menu | None) -> bool:
        """`send_msg`, only when the mirror says WeCom would accept it."""
        if content is None:
            return False
        if not self.state.can_send(self.now):
            self.note("send_skipped", purpose=purpose, state=self.state.wecom_state)
            return False
        self.actions.append(Send(purpose=purpose, content=content))
        self.update(sends_since_customer_message=self.state.sends_since_customer_message + 1)
        self.update(last_activity_at=self.now)
        if self.state.wecom_state == STATE_NEW:  # a send in 0 hands the session to the API (§5.3)
            self.move(STATE_AI, reason="kefu_replied")
        return True

    def issue_code(self, kind: CodeKind, code: str, *, issued_at: datetime) -> EventCode:
        """Record a code WeCom gave, in the state and session it was issued in."""
        event_code = EventCode(
            code=code,
            kind=kind,
            issued_in_state=self.state.wecom_state,
            session_no=self.state.session_no,
            expires_at=issued_at + CODE_TTL[kind],
        )
        self.update(codes=[*self.state.codes, event_code])
        return event_code

    def send_on_event(self, kind: CodeKind, purpose: Purpose, content: Content | None) -> bool:
        """`send_msg_on_event` with the live code of `kind`, if there is one (it is then used up)."""
        if content is None:
            return False
        code = self.state.live_code(kind, self.now)
        if code is None:
            self.note("event_send_skipped", purpose=purpose, code_kind=kind)
            return False
        deadline = code.expires_at if kind in ("welcome", "ending") else None
        self.actions.append(
            SendOnEvent(code=code.code, code_kind=kind, purpose=purpose, content=content, deadline=deadline)
        )
        self.update(codes=[c.model_copy(update={"used": True}) if c is code else c for c in self.state.codes])
        return True

    def prune_codes(self) -> None:
        """Forget used and expired codes (the stored state stays small)."""
        live = [c for c in self.state.codes if not c.used and self.now < c.expires_at]
        if len(live) != len(self.state.codes):
            self.update(codes=live)

    # --- transfers ---------------------------------------------------------------------------

    def transfer(self, target: Literal[2, 3, 4], servicer: str | None, *, reason: str) -> None:
        self.actions.append(Transfer(target_state=target, servicer_userid=servicer))
        pending = Transition(
            target_state=target, servicer_userid=servicer, session_no=self.state.session_no, at=self.now
        )
        self.update(pending_transition=pending)
        self.note("transfer_requested", target_state=target, servicer=servicer, reason=reason)

    def route(self, *, reason: str) -> bool:
        """Hand the session to a human by the account's routing rules: the chosen servicer (3),
        else the pool (2), reserved for a servicer when a rule says to wait for them."""
        state = self.state
        if state.pending_transition is not None:
            return False
        exclude = list(state.refused_servicers)
        if state.wecom_state == STATE_POOL and state.reserved_for:
            waited = self.roster.find(state.reserved_for)
            # Off duty when the rule said wait: waited for until they come (that is what `wait`
            # means); one who stops while waited for on duty is given up.
            holds = waited is not None and (waited.on_duty or state.reserved_off_duty)
            if holds and waited is not None and waited.userid not in exclude:
                decision = for_reserved(self.roster, waited.userid)
                if decision.outcome != "assign":
                    return False  # they are still full: keep waiting for them
                self._routed(decision, reason)
                self.transfer(3, decision.userid, reason=reason)
                return True
            # They stopped reception or left the list: fall back by the rules, without them.
            exclude.append(state.reserved_for)
            self._reserve(None)
            self.note("reservation_dropped", servicer=state.reserved_for)
        if (
            state.wecom_state in SENDABLE_STATES
            and self.roster.waiting_for_anyone
            and not self._pool_at_cap()
        ):
            decision = behind_the_line(self.roster)  # first come, first served: into the line
        else:
            decision = choose(
                self.settings.routing.rules, self.roster, last_userid=state.last_servicer(), exclude=exclude
            )
        if decision.outcome == "assign" and state.wecom_state in (*SENDABLE_STATES, STATE_POOL):
            self._routed(decision, reason)
            self.transfer(3, decision.userid, reason=reason)
            return True
        reserved = decision.userid if decision.outcome == "wait" else None
        if state.wecom_state in SENDABLE_STATES:
            if self._queue_full():
                return False
            self._routed(decision, reason)
            self._reserve(reserved)
            self.transfer(2, None, reason=reason)
            return True
        if state.wecom_state == STATE_POOL and reserved is not None and reserved != self.state.reserved_for:
            self._routed(decision, reason)  # still waiting, now for someone in particular
            self._reserve(reserved)
        return False  # already queued and nobody has room: stay in the pool

    def _reserve(self, userid: str | None) -> None:
        """Wait in the pool for `userid` (None: for anyone), remembering whether they were off duty."""
        waited = self.roster.find(userid)
        self.update(reserved_for=userid, reserved_off_duty=waited is not None and not waited.on_duty)

    def _pool_at_cap(self) -> bool:
        cap = self.settings.queue.max_length
        return cap is not None and self.roster.pool_length >= cap

    def _queue_full(self) -> bool:
        """The pool is at the account's cap: say so once per request, the customer stays with
        the AI (queue.max_length; the over-length message)."""
        cap = self.settings.queue.max_length
        if cap is None or not self._pool_at_cap():
            return False
        self.note("queue_full", waiting=self.roster.pool_length, cap=cap)
        self.send("queue_full", phrase_for(self.settings.queue.over_length_message, "over_length"))
        return True

    def hand_over(self, userid: str, *, by: str) -> bool:
        """Hand this human session to another servicer (trans 3 → 3), within their cap."""
        busy = self.state.wecom_state != STATE_HUMAN or self.state.servicer_userid == userid
        return self._chosen_by_person(userid, by=by, rule="handover", refused=busy)

    def take_by_hand(self, userid: str, *, by: str) -> bool:
        """A servicer takes this waiting customer (手动接入): exactly one take wins."""
        return self._chosen_by_person(
            userid, by=by, rule="manual", refused=self.state.wecom_state != STATE_POOL
        )

    def _chosen_by_person(
        self, userid: str, *, by: str, rule: Literal["manual", "handover"], refused: bool
    ) -> bool:
        state = self.state
        decision = None if refused or state.pending_transition else by_person(self.roster, userid, rule=rule)
        if decision is None or decision.outcome != "assign":
            self.note(f"{'take' if rule == 'manual' else 'handover'}_refused", servicer=userid, by=by)
            return False
        self._routed(decision, "manual_take" if rule == "manual" else "handover")
        self.transfer(3, userid, reason="manual_take" if rule == "manual" else "handover")
        return True

    def record_app_move(self, userid: str, reason: str) -> None:
        """A servicer took or was given the session in the WeCom app: kept like Kefu's decisions."""
        self._routed(in_app(self.roster, userid), reason)

    def _routed(self, decision: RoutingDecision, reason: str) -> None:
        """Keep the decision (explained) and move the rotation's pointer when it turned."""
        self.actions.append(RecordRouting(decision=decision, reason=reason))
        self.note("routed", outcome=decision.outcome, servicer=decision.userid, rule=decision.rule)
        if decision.round_robin_last != self.roster.round_robin_last:
            self.roster = self.roster.model_copy(update={"round_robin_last": decision.round_robin_last})
