"""A small model of WeCom's session rules (wecom-kf-api.md §5–7, as the simulator implements them)
and of the shell's loop around decide(), for property tests.

`Harness` holds WeCom's truth (state, window, quota, codes) and Kefu's stored
state. Each step is a customer, servicer or clock action, or the delivery of the
oldest queued action; WeCom's answer to a delivery is fed back into decide, as
the shell does. Every decision is checked against WeCom's truth at the moment
decide emitted it.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kefu.ai import Answer
from kefu.reception.core import (
    AccountSettings,
    Action,
    ConversationState,
    CustomerNonText,
    CustomerText,
    Decision,
    EnterSession,
    IdleCheck,
    Inbound,
    Menu,
    OpeningReached,
    Recall,
    Reconcile,
    Reconciled,
    RosterNeeded,
    Send,
    SendFailed,
    SendOnEvent,
    SendRefused,
    ServicerLoad,
    ServicerMessage,
    SessionStatusChange,
    Transfer,
    TransferDone,
    TransferRefused,
    decide,
    parse_rating,
    wants_ai_answer,
)

WINDOW = timedelta(hours=48)
TTL = {"welcome": timedelta(seconds=20), "ending": timedelta(seconds=20), "pool": WINDOW, "taken": WINDOW}
ALLOWED = {0: {1, 2, 3}, 1: {2, 3}, 2: {3}, 3: {3, 4}}
UNCONFIRMED = {0: {4}, 1: {1, 4}, 2: {2, 4}}
AI_PURPOSES = ("ai_answer", "not_sure")
TEXTS = ("怎么退货", "转人工", "ＶＩＰ客服", "营业时间", "人工客服在吗")


@dataclass
class Code:
    kind: str
    state: int
    session: int
    expires_at: datetime
    used: bool = False
    emitted: bool = False


@dataclass
class Harness:
    account: AccountSettings
    servicers: list[ServicerLoad]
    now: datetime
    allow_unconfirmed: bool = True  # WeCom allows 0/1/2 → 4 (UNCONFIRMED in the docs)
    omit_codes: bool = False  # WeCom returns no msg_code
    refusing: str | None = None  # trans → 3 to this servicer fails with 95019
    # WeCom's truth.
    state: int = 4
    servicer: str | None = None
    session: int = 0
    started_at: datetime | None = None
    last_customer_at: datetime | None = None
    sends: int = 0
    entered_pool: bool = False
    entered_human: bool = False
    last_welcome_at: datetime | None = None
    codes: dict[str, Code] = field(default_factory=dict)
    # Kefu.
    kefu: ConversationState = field(default_factory=ConversationState)
    queue: deque[Action] = field(default_factory=deque)
    # What the properties count.
    emitted_since_customer: int = 0
    ending_sends: Counter[int] = field(default_factory=Counter)  # WeCom session → ending messages
    endings_due: dict[int, bool] = field(default_factory=dict)  # WeCom session → exactly one expected
    rating_ids: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)  # what happened, for hypothesis statistics
    serial: int = 0

    # --- WeCom ------------------------------------------------------------------------------

    def expire(self) -> None:
        if self.state != 4 and self.started_at is not None and self.now >= self.started_at + WINDOW:
            self.state, self.servicer = 4, None

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def issue(self, kind: str) -> str | None:
        if self.omit_codes:
            return None
        code = self.next_id("C")
        self.codes[code] = Code(kind, self.state, self.session, self.now + TTL[kind])
        return code

    def move(self, to_state: int, servicer: str | None = None) -> None:
        self.state, self.servicer = to_state, servicer if to_state == 3 else None

    def new_session(self) -> None:
        self.session += 1
        self.started_at = self.now
        self.entered_pool = self.entered_human = False

    def ended(self, code: str | None) -> None:
        """A session ends with `code`: Kefu owes exactly one ending message when its modes say so
        (the survey only after a servicer held the session: it rates their service)."""
        messages = self.account.messages
        surveyed = messages.survey.mode != "none" and self.entered_human
        wanted = messages.ending.mode != "none" or surveyed
        normal = self.kefu.session_kind == "normal"
        self.endings_due[self.session] = bool(code) and wanted and normal and self.account.enabled

    # --- the shell ----------------------------------------------------------------------------

    def process(self, inbound: Inbound) -> Decision:
        decision = decide(self.kefu, inbound, self.account, self.servicers, self.now)
        # The shell decides first without the roster: that must give the same decision, or ask.
        try:
            assert decide(self.kefu, inbound, self.account, None, self.now) == decision
        except RosterNeeded:
            self.seen["roster_needed"] += 1
        self.seen[inbound.kind] += 1
        self.check(inbound, decision)
        self.kefu = decision.state
        self.queue.extend(decision.actions)
        return decision

    def check(self, inbound: Inbound, decision: Decision) -> None:
        """The properties, against WeCom's truth when decide emitted the actions."""
        self.expire()
        from_customer_text = isinstance(inbound, CustomerText) and parse_rating(inbound.menu_id) is None
        for action in decision.actions:
            self.seen[getattr(action, "purpose", action.kind)] += 1
            if isinstance(action, Send):
                assert self.state in (0, 1), f"send_msg in state {self.state}: {action}"
                assert self.last_customer_at is not None and self.now < self.last_customer_at + WINDOW
                self.emitted_since_customer += 1
                assert self.emitted_since_customer <= 5, "more than 5 sends for one customer message"
                assert action.purpose not in AI_PURPOSES or from_customer_text, f"AI answer to {inbound}"
            if isinstance(action, Send | SendOnEvent) and isinstance(action.content, Menu):
                self.rating_ids.extend(c.id for c in action.content.choices if parse_rating(c.id))
            if isinstance(action, SendOnEvent):
                code = self.codes.get(action.code)
                assert code is not None and code.kind == action.code_kind
                assert not code.used and not code.emitted and self.now < code.expires_at
                if code.kind != "welcome":
                    assert (code.state, code.session) == (self.state, self.session), "code not live"
                code.emitted = True
                if code.kind == "ending":
                    self.ending_sends[code.session] += 1
                    assert self.ending_sends[code.session] <= 1, "two ending messages for one session"
        assert not any(isinstance(a, Send) for a in decision.actions) or decision.state.wecom_state in (0, 1)

    def deliver(self) -> None:
        """The oldest queued action reaches WeCom; its outcome goes back through decide."""
        if not self.queue:
            return
        action = self.queue.popleft()
        self.expire()
        if isinstance(action, Send):
            self._send()
        elif isinstance(action, SendOnEvent):
            code = self.codes.get(action.code)
            live = code is not None and not code.used and self.now < code.expires_at
            if code is not None and live and code.kind != "welcome":
                live = (code.state, code.session) == (self.state, self.session)
            if code is None or not live:
                self.process(SendRefused(action_kind="send_on_event", errcode=95007, purpose=action.purpose))
                return
            code.used = True
            if code.kind == "welcome":
                self.last_welcome_at = self.now
        elif isinstance(action, Transfer):
            self._trans(action)
        elif isinstance(action, Reconcile):
            self.process(Reconciled(wecom_state=self.state, servicer_userid=self.servicer))  # type: ignore[arg-type]

    def _send(self) -> None:
        if self.state not in (0, 1):
            errcode = 95018
        elif self.last_customer_at is None or self.now >= self.last_customer_at + WINDOW:
            errcode = 95002
        elif self.sends >= 5:
            errcode = 95001
        else:
            self.sends += 1
            if self.state == 0:
                self.move(1)
            return
        self.process(SendRefused(action_kind="send", errcode=errcode))

    def _trans(self, transfer: Transfer) -> None:
        target, userid = transfer.target_state, transfer.servicer_userid
        if self.state == 4:
            errcode: int | None = 95013
        elif target not in ALLOWED.get(self.state, set()) and not (
            self.allow_unconfirmed and target in UNCONFIRMED.get(self.state, set())
        ):
            errcode = 95016
        elif target == 3 and (userid is None or userid == self.refusing):
            errcode = 95019
        elif target == 3 and self.state == 3 and userid == self.servicer:
            errcode = 95016
        else:
            errcode = None
        if errcode is not None:
            self.process(TransferRefused(target_state=target, errcode=errcode))
            return
        self.move(target, userid)
        code = None
        if target == 2 and not self.entered_pool:
            self.entered_pool = True
            code = self.issue("pool")
        elif target == 3 and not self.entered_human:
            self.entered_human = True
            code = self.issue("taken")
        elif target == 4:
            code = self.issue("ending")
            self.ended(code)
        self.process(TransferDone(target_state=target, servicer_userid=userid, msg_code=code))

    # --- the customer -------------------------------------------------------------------------

    def customer_writes(self, inbound_for: type, pick: int) -> None:
        self.expire()
        if self.state == 4:
            self.new_session()
            self.move(0)
        self.last_customer_at = self.now
        self.sends = 0
        self.emitted_since_customer = 0
        msgid = self.next_id("m")
        if inbound_for is CustomerNonText:
            self.process(CustomerNonText(msgid=msgid, msgtype="image", sent_at=self.now))
            return
        menu_id = None
        content = TEXTS[pick % len(TEXTS)]
        if pick % 7 == 5:
            menu_id, content = "kefu_transfer", "转人工"
        elif pick % 7 == 6:
            menu_id = self.rating_ids[pick % len(self.rating_ids)] if self.rating_ids else "kefu_rate:1:0:100"
        probe = CustomerText(msgid=msgid, text=content, menu_id=menu_id, sent_at=self.now)
        wants = wants_ai_answer(self.kefu, probe, self.account, self.now)
        # The shell passes an answer only when wanted; now and then a stray one, which must be ignored.
        given = wants or pick % 3 == 0
        answer = Answer(text="答案。" * (pick % 5), confidence=0.5, entry=None, not_sure=pick % 4 == 0)
        inbound = probe.model_copy(update={"ai_answer": answer if given else None})
        decision = self.process(inbound)
        answered = any(isinstance(a, Send) and a.purpose in AI_PURPOSES for a in decision.actions)
        assert answered is wants, "wants_ai_answer disagrees with decide"

    def enter(self) -> None:
        recent_welcome = self.last_welcome_at is not None and self.now - self.last_welcome_at < WINDOW
        wrote = self.last_customer_at is not None and self.now - self.last_customer_at < WINDOW
        code = None if recent_welcome or wrote else self.issue("welcome")
        self.process(EnterSession(msgid=self.next_id("e"), welcome_code=code, sent_at=self.now))

    # --- the servicer in the WeCom app -------------------------------------------------------

    def servicer_acts(self, pick: int) -> None:
        self.expire()
        people = [s.userid for s in self.servicers]
        other = people[pick % len(people)]
        msgid = self.next_id("s")
        if self.state == 2:  # take from the pool
            self.move(3, other)
            self.entered_human = True
            code = self.issue("taken")
            self.process(
                SessionStatusChange(
                    msgid=msgid, change_type=1, new_servicer_userid=other, msg_code=code, sent_at=self.now
                )
            )
        elif self.state == 3 and pick % 3 == 0:  # end
            old = self.servicer
            self.move(4)
            code = self.issue("ending")
            self.ended(code)
            self.process(
                SessionStatusChange(
                    msgid=msgid, change_type=3, old_servicer_userid=old, msg_code=code, sent_at=self.now
                )
            )
        elif self.state == 3 and pick % 3 == 1 and other != self.servicer:  # transfer
            old = self.servicer
            self.move(3, other)
            self.process(
                SessionStatusChange(
                    msgid=msgid,
                    change_type=2,
                    old_servicer_userid=old,
                    new_servicer_userid=other,
                    sent_at=self.now,
                )
            )
        elif self.state == 3:  # reply
            self.process(
                ServicerMessage(msgid=msgid, servicer_userid=self.servicer or other, sent_at=self.now)
            )
        elif self.state == 4 and self.session > 0 and pick % 2 == 0:  # re-take the ended session
            self.new_session()
            self.move(3, other)
            self.process(
                SessionStatusChange(
                    msgid=msgid,
                    change_type=4,
                    old_servicer_userid=other,
                    new_servicer_userid=other,
                    sent_at=self.now,
                )
            )

    # --- events and timers -------------------------------------------------------------------

    def other_event(self, pick: int) -> None:
        match pick % 4:
            case 0:
                self.process(IdleCheck())
            case 1:
                self.process(OpeningReached())
            case 2:
                self.process(Recall(recall_msgid=self.next_id("m"), by="customer"))
            case _:
                self.process(SendFailed(fail_msgid=self.next_id("k"), fail_type=(4, 5, 6, 10)[pick // 4 % 4]))
