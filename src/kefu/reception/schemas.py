"""What the API answers about conversations: the record and its transcript."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    external_userid: str
    wecom_state: int = Field(description="WeCom's session state as Kefu mirrors it: 0 new … 4 ended")
    owner: str = Field(description="none | ai | pool | servicer")
    servicer_userid: str | None
    session_no: int
    queued_at: datetime | None = Field(
        default=None, description="in the pool since (queue order), or on its way there since"
    )
    reserved_for: str | None = Field(default=None, description="in the pool, waiting for this servicer")
    last_message_at: datetime | None
    last_customer_message_at: datetime | None
    next_idle_check_at: datetime | None
    next_opening_check_at: datetime | None
    updated_at: datetime


class WaitingOut(BaseModel):
    """A customer in the queue pool (排队池)."""

    conversation_id: int
    external_userid: str
    position: int = Field(description="1 = next in line")
    waiting_since: datetime | None
    first_question: str | None = Field(description="the customer's first text of this session")
    reserved_for: str | None = Field(description="a routing rule said to wait for this servicer")


class AwaitingReplyOut(BaseModel):
    """A human session whose customer waits for the servicer's word."""

    conversation_id: int
    external_userid: str
    servicer_userid: str | None
    waiting_since: datetime = Field(description="the take, or the customer's first unanswered message")
    waiting_minutes: int
    notice_sent: bool = Field(description="the no-reply notice went out this session")


class TakeIn(BaseModel):
    servicer_userid: str = Field(min_length=1, max_length=64)


class TakeOut(BaseModel):
    conversation_id: int
    servicer_userid: str
    status: Literal["transferring"] = Field(
        description="Kefu asked WeCom to hand the session over; the conversation shows the outcome"
    )


class EndOut(BaseModel):
    conversation_id: int
    status: Literal["ending"] = Field(
        description="Kefu asked WeCom to end the session; the conversation shows the outcome"
    )


class FollowUpMessage(BaseModel):
    msgid: str
    at: datetime
    text: str


class FollowUpOut(BaseModel):
    """留言: messages a customer left after asking for a human off hours or after a queue timeout."""

    id: int
    conversation_id: int
    external_userid: str
    reason: Literal["off_hours", "queue_timeout"]
    status: Literal["open", "closed"]
    opened_at: datetime
    last_message_at: datetime
    messages: list[FollowUpMessage]
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None


class FollowUpClose(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="what was done, for the record")


class TranscriptItem(BaseModel):
    """One line of a transcript, in order: a message (customer, servicer, WeCom event, or Kefu's
    own send), a state change or note (timeline), an outbox action that did not simply succeed
    as a message (transfers, refusals, failures, drops), or a rating."""

    at: datetime
    type: Literal["message", "timeline", "action", "rating"]
    sender: Literal["customer", "servicer", "event", "kefu"] | None = None
    msgid: str | None = None
    msgtype: str | None = None
    text: str | None = None
    recalled: bool = False
    send_fail_type: int | None = None
    possibly_delivered: bool = False
    kind: str | None = Field(default=None, description="timeline kind, action kind, or event type")
    status: str | None = Field(default=None, description="an action's status")
    errcode: int | None = None
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ConversationDetail(BaseModel):
    conversation: ConversationOut
    state: dict[str, Any] | None = Field(description="the stored mirror (ConversationState JSON)")
    transcript: list[TranscriptItem]
