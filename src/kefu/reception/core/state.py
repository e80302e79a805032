"""ConversationState: Kefu's mirror of WeCom's session per (account, customer), stored as JSON.

WeCom's states (wecom-kf-api.md §7.1): 0 new, 1 assistant (the API serves), 2 queued
in the pool, 3 a human serves, 4 ended / not started. A session runs from the
customer's message in state 4 until it ends, at most 48 hours. `send_msg` works
only in 0/1, within 48 hours of the customer's last message, 5 times per
customer message; event codes allow one message each, while their session is in
the state that issued them (except the welcome), until they expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

STATE_NEW, STATE_AI, STATE_POOL, STATE_HUMAN, STATE_ENDED = 0, 1, 2, 3, 4
SENDABLE_STATES = frozenset({STATE_NEW, STATE_AI})
LIVE_STATES = frozenset({STATE_NEW, STATE_AI, STATE_POOL, STATE_HUMAN})

WINDOW = timedelta(hours=48)  # send window after a customer message; also a session's longest life
SENDS_PER_CUSTOMER_MESSAGE = 5
SHORT_CODE_TTL = timedelta(seconds=20)  # welcome and ending codes
LONG_CODE_TTL = timedelta(hours=48)  # pool and taken codes
KEEP_RECENT_SESSIONS = 10  # ended sessions remembered for ratings
KEEP_RATED_SESSIONS = 20  # rated session numbers remembered (first rating wins)

WeComState = Literal[0, 1, 2, 3, 4]
Owner = Literal["none", "ai", "pool", "servicer"]
CodeKind = Literal["welcome", "pool", "taken", "ending"]
SessionKind = Literal["normal", "rating_only"]

OWNER_OF_STATE: dict[int, Owner] = {0: "none", 1: "ai", 2: "pool", 3: "servicer", 4: "none"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventCode(_Frozen):
    """A `welcome_code` / `msg_code`: one message, while live."""

    code: str
    kind: CodeKind
    issued_in_state: WeComState
    session_no: int  # the session it belongs to; a new session kills every code but a welcome
    expires_at: AwareDatetime
    used: bool = False


class Transition(_Frozen):
    """A `service_state/trans` Kefu asked for (pending) or made (last)."""

    target_state: Literal[2, 3, 4]
    servicer_userid: str | None = None
    session_no: int
    at: AwareDatetime


class EndedSession(_Frozen):
    """A session that ended, kept so a later rating click finds its servicer."""

    session_no: int
    servicer_userid: str | None
    ended_at: AwareDatetime
    kind: SessionKind = "normal"
    # The session's last words went out (at most once): the ending and survey, or the queue
    # timeout's message, which the pool's code carried already when WeCom kept the customer waiting.
    ending_sent: bool = False
    queue_timeout: bool = False  # Kefu ended it because the customer waited too long in the pool
    # A servicer held it (state 3): only then is there a service to rate, so only then does its
    # ending carry the survey. True for sessions ended before this was recorded, as they were.
    served: bool = True


class ConversationState(_Frozen):
    """The mirror of one customer's WeCom session with one account, and Kefu's per-session flags."""

    wecom_state: WeComState = 4  # STATE_ENDED: no session yet
    owner: Owner = "none"
    servicer_userid: str | None = None  # meaningful in state 3
    session_no: int = 0  # increments with each new session
    session_started_at: AwareDatetime | None = None
    session_kind: SessionKind = "normal"
    # The 48-hour window and the 5-message quota.
    last_customer_message_at: AwareDatetime | None = None
    sends_since_customer_message: int = Field(0, ge=0)
    # The customer message the counter runs from: the newest one Kefu had pulled (Backlog).
    quota_msgid: str | None = None
    window_refused: bool = False  # WeCom answered 95002: no sends until the customer writes
    last_activity_at: AwareDatetime | None = None  # customer message or Kefu send (AI idle timeout)
    codes: list[EventCode] = Field(default_factory=list)
    # Per-session flags.
    off_hours_notified: bool = False
    paused_notified: bool = False
    waiting_for_opening: bool = False
    not_sure_streak: int = Field(0, ge=0)
    pool_notice_sent: bool = False
    taken_notice_sent: bool = False
    served: bool = False  # a servicer held this session (state 3) at some point
    # In a human session: since when the customer waits for the servicer's word (taken, or wrote
    # after the servicer's last message), and whether the no-reply notice went out (once).
    awaiting_reply_since: AwareDatetime | None = None
    no_reply_notice_sent: bool = False
    refused_servicers: list[str] = Field(default_factory=list)  # trans → 3 refused this session
    # The customer's request for a human WeCom refused (not for the servicer): asked again once
    # WeCom's state is read, then the customer is told.
    refused_requests: int = Field(0, ge=0)
    # In the pool: since when (queue order), and whom a routing rule said to wait for.
    queued_at: AwareDatetime | None = None
    reserved_for: str | None = None
    reserved_off_duty: bool = False  # reserved_for was off duty then: held until they come on duty
    queue_timeout: bool = False  # Kefu is ending this session: it waited in the pool too long
    timeout_message_sent: bool = False  # the queue timeout's message went out with the pool's code
    # What the customer writes now is a message left for servicers (留言): after asking for a
    # human off hours, or in the session after a queue timeout.
    leaving_message: Literal["off_hours", "queue_timeout"] | None = None
    # Transitions Kefu asked for, to recognise their echo in session_status_change.
    pending_transition: Transition | None = None
    # Kefu ended the session in its records but WeCom refused the move (95016) and still shows 0/1.
    ended_locally: bool = False
    last_transition: Transition | None = None
    recent_sessions: list[EndedSession] = Field(default_factory=list)
    rated_sessions: list[int] = Field(default_factory=list)

    # --- JSON --------------------------------------------------------------------------------

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> ConversationState:
        return cls.model_validate_json(text)

    # --- reading the mirror ------------------------------------------------------------------

    def window_closes_at(self) -> datetime | None:
        """When `send_msg` stops working: 48 h after the customer's last message."""
        if self.last_customer_message_at is None:
            return None
        return self.last_customer_message_at + WINDOW

    def session_expires_at(self) -> datetime | None:
        """When WeCom ends a live session on its own: 48 h after it started."""
        if self.wecom_state == STATE_ENDED or self.session_started_at is None:
            return None
        return self.session_started_at + WINDOW

    def session_live_at(self, now: datetime) -> bool:
        """False once a live session has passed its 48 h life (WeCom ends it without an event)."""
        expires = self.session_expires_at()
        return expires is None or now < expires

    def sends_left(self, now: datetime) -> int:
        """How many `send_msg` calls WeCom would accept now."""
        closes = self.window_closes_at()
        if self.wecom_state not in SENDABLE_STATES or closes is None or now >= closes:
            return 0
        if self.window_refused or not self.session_live_at(now):
            return 0
        return max(0, SENDS_PER_CUSTOMER_MESSAGE - self.sends_since_customer_message)

    def can_send(self, now: datetime) -> bool:
        return self.sends_left(now) > 0

    def live_code(self, kind: CodeKind, now: datetime) -> EventCode | None:
        """The usable code of `kind`, if any: unused, unexpired, in its issuing state and session."""
        for code in reversed(self.codes):
            if code.kind != kind or code.used or now >= code.expires_at:
                continue
            if kind == "welcome":
                return code
            in_issuing_state = code.issued_in_state == self.wecom_state and code.session_no == self.session_no
            if in_issuing_state and self.session_live_at(now):
                return code
        return None

    def ended_session(self, session_no: int) -> EndedSession | None:
        for ended in self.recent_sessions:
            if ended.session_no == session_no:
                return ended
        return None

    def last_servicer(self) -> str | None:
        """Who served this customer's last human session (the `last` routing rule)."""
        for ended in reversed(self.recent_sessions):
            if ended.servicer_userid and ended.kind == "normal":
                return ended.servicer_userid
        return None

    @property
    def transfer_pending(self) -> bool:
        return self.pending_transition is not None and self.pending_transition.target_state in (2, 3)
