"""What decide() reacts to: pulled messages and events, timers, and the outcomes of its own actions.

Every inbound has a stable `kind`. Bootstrap messages (read when an account is
first connected) never reach decide. Times are aware datetimes (UTC), as
`send_time` of the pulled item.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from kefu.ai.provider import Answer


class _Inbound(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- pulled from sync_msg --------------------------------------------------------------------


class Backlog(_Inbound):
    """What Kefu knows of the customer's stream at WeCom when it acts on one of their messages.

    WeCom's 5-send quota counts from the customer's latest message it received, whichever message
    the sends answer. `newest_msgid`/`newest_at` is the latest one Kefu has pulled (this message
    or a later one: Kefu is catching up), `newer` how many came after this one, and
    `sends_after_newest` Kefu's sends that WeCom counts against it: accepted after it was sent,
    or still waiting to go out.
    """

    newer: int = Field(0, ge=0)
    newest_msgid: str
    newest_at: AwareDatetime
    sends_after_newest: int = Field(0, ge=0)


class CustomerText(_Inbound):
    """A customer's text (origin 3); a click on a menu item carries the item's id in `menu_id`.

    `ai_answer` is the AI's answer, asked by the shell beforehand only when
    `wants_ai_answer` said so; None otherwise (decide then never uses the AI).
    `backlog` is set by the shell (None from other callers: the message is the newest, and
    nothing Kefu sent counts against it).
    """

    kind: Literal["customer_text"] = "customer_text"
    msgid: str
    text: str
    menu_id: str | None = None
    sent_at: AwareDatetime
    ai_answer: Answer | None = None
    backlog: Backlog | None = None


class CustomerNonText(_Inbound):
    """A customer's image, voice, video, file, location, link, … (origin 3)."""

    kind: Literal["customer_non_text"] = "customer_non_text"
    msgid: str
    msgtype: str
    sent_at: AwareDatetime
    backlog: Backlog | None = None


class EnterSession(_Inbound):
    """`enter_session`: the customer opened the chat; a `welcome_code` allows one welcome for 20 s."""

    kind: Literal["enter_session"] = "enter_session"
    msgid: str
    welcome_code: str | None = None
    scene: str | None = None
    scene_param: str | None = None
    sent_at: AwareDatetime


class ServicerMessage(_Inbound):
    """A servicer wrote from the WeCom app (origin 5). Never reaches the AI."""

    kind: Literal["servicer_message"] = "servicer_message"
    msgid: str
    servicer_userid: str
    sent_at: AwareDatetime


class SessionStatusChange(_Inbound):
    """`session_status_change`: 1 taken from the pool, 2 transferred, 3 ended, 4 re-taken (in the app)."""

    kind: Literal["session_status_change"] = "session_status_change"
    msgid: str = ""
    change_type: Literal[1, 2, 3, 4]
    old_servicer_userid: str | None = None
    new_servicer_userid: str | None = None
    msg_code: str | None = None
    sent_at: AwareDatetime


class SendFailed(_Inbound):
    """`msg_send_fail`: a send WeCom accepted was not delivered after all."""

    kind: Literal["send_failed"] = "send_failed"
    msgid: str = ""
    fail_msgid: str
    fail_type: int


class Recall(_Inbound):
    """`user_recall_msg` / `servicer_recall_msg`."""

    kind: Literal["recall"] = "recall"
    msgid: str = ""
    recall_msgid: str
    by: Literal["customer", "servicer"]


# --- timers ----------------------------------------------------------------------------------


class IdleCheck(_Inbound):
    """Due at `next_idle_check(state, settings)`: end an AI session silent for too long."""

    kind: Literal["idle_check"] = "idle_check"


class OpeningReached(_Inbound):
    """Due at `next_opening_check(state, settings, now)`: route a customer who waited for opening."""

    kind: Literal["opening_reached"] = "opening_reached"


class Dispatch(_Inbound):
    """Capacity may have appeared (a session ended, a servicer came on duty, a period began):
    a customer waiting in the pool is routed again."""

    kind: Literal["dispatch"] = "dispatch"


class CheckState(_Inbound):
    """The periodic check: a human session quiet for hours, or a transfer whose delivery died —
    ask WeCom how the session stands."""

    kind: Literal["check_state"] = "check_state"


class ManualTake(_Inbound):
    """A servicer takes this waiting customer by hand (手动接入) through Kefu."""

    kind: Literal["manual_take"] = "manual_take"
    servicer_userid: str = Field(min_length=1, max_length=64)
    by: str = Field(default="", max_length=64)  # who asked (an API token's name)


class HandOver(_Inbound):
    """Someone hands a human session to another servicer (trans 3 → 3) through Kefu."""

    kind: Literal["hand_over"] = "hand_over"
    servicer_userid: str = Field(min_length=1, max_length=64)
    by: str = Field(default="", max_length=64)


# Who ended a session by hand, as reports tell it apart (kefu.reports.endings).
EndedByHand = Literal["servicer_in_console", "admin_in_console", "api"]


class EndByHand(_Inbound):
    """Someone ends this session (a human one, or a wait in the pool) through Kefu (trans → 4):
    `who` — its servicer in the console, an admin or supervisor in the console, or the API;
    None where the caller did not say (noted as an end by hand, who unknown)."""

    kind: Literal["end_by_hand"] = "end_by_hand"
    by: str = Field(default="", max_length=64)
    who: EndedByHand | None = None


# --- outcomes of Kefu's own actions, fed back by the shell -----------------------------------


class TransferDone(_Inbound):
    """`service_state/trans` succeeded; `msg_code` is the code it returned, if any."""

    kind: Literal["transfer_done"] = "transfer_done"
    target_state: Literal[2, 3, 4]
    servicer_userid: str | None = None
    msg_code: str | None = None


class TransferRefused(_Inbound):
    """`service_state/trans` failed for good with `errcode` (95016 not allowed, 95014, 95019, 95013…)."""

    kind: Literal["transfer_refused"] = "transfer_refused"
    target_state: Literal[2, 3, 4]
    errcode: int


class SendRefused(_Inbound):
    """`send_msg` or `send_msg_on_event` failed for good with `errcode`."""

    kind: Literal["send_refused"] = "send_refused"
    action_kind: Literal["send", "send_on_event"]
    errcode: int
    purpose: str | None = None


class Reconciled(_Inbound):
    """The answer of `service_state/get`: WeCom's state wins."""

    kind: Literal["reconciled"] = "reconciled"
    wecom_state: Literal[0, 1, 2, 3, 4]
    servicer_userid: str | None = None


Inbound = Annotated[
    CustomerText
    | CustomerNonText
    | EnterSession
    | ServicerMessage
    | SessionStatusChange
    | SendFailed
    | Recall
    | IdleCheck
    | OpeningReached
    | Dispatch
    | CheckState
    | ManualTake
    | HandOver
    | EndByHand
    | TransferDone
    | TransferRefused
    | SendRefused
    | Reconciled,
    Field(discriminator="kind"),
]

INBOUND_ADAPTER: TypeAdapter[Inbound] = TypeAdapter(Inbound)
