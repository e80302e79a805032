"""Conversations (one customer's thread with one account), their outbox of actions,
timeline and ratings. The mirror of WeCom's session lives in `state` (JSON of
kefu.reception.core.ConversationState); a few of its fields are copied into
columns so the console and routing can query them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "external_userid"),
        # /metrics: sessions by state and the pool (length, longest wait) per account, read
        # from the index alone and only over open sessions (state < 4).
        Index("ix_conversations_state_account", "wecom_state", "account_id", "queued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"))
    external_userid: Mapped[str] = mapped_column(String(64))
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_customer_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Copies of the state for queries (console lists, servicer load, timers).
    wecom_state: Mapped[int] = mapped_column(Integer, default=4)
    owner: Mapped[str] = mapped_column(String(16), default="none")
    servicer_userid: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    session_no: Mapped[int] = mapped_column(Integer, default=0)
    # In the pool: since when (queue order) and whom a routing rule said to wait for.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reserved_for: Mapped[str | None] = mapped_column(String(64), default=None)
    next_idle_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_opening_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # In a human session: since when the customer's message waits for the servicer's reply.
    awaiting_reply_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConversationAction(Base):
    """The outbox: one row per action decide() chose, delivered by a job under the
    conversation's lock. Outgoing msgids derive from this row's id, so a redo of
    the delivery re-sends under the same msgid and never duplicates."""

    __tablename__ = "conversation_actions"
    __table_args__ = (Index("ix_conversation_actions_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending | done | possibly_delivered | refused | failed | dropped
    status: Mapped[str] = mapped_column(String(24), default="pending")
    msgid: Mapped[str | None] = mapped_column(String(32), default=None)
    errcode: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TimelineEntry(Base):
    """State changes and notes shown between the messages of a transcript."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_conversation", "conversation_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class Rating(Base):
    """A satisfaction rating of one ended session; the first click wins."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("conversation_id", "session_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    session_no: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(128))
    servicer_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionRecord(Base):
    """One session's facts for reports (kefu.reports), kept as the session goes (session_log):
    when it started, whether and why it went to a human, how long the customer waited in the
    pool and for the servicer's first word, how it ended. Durations are whole seconds, written
    once, so medians and percentiles are read by the database without date arithmetic."""

    __tablename__ = "session_records"
    __table_args__ = (
        UniqueConstraint("conversation_id", "session_no"),
        Index("ix_session_records_account_started", "account_id", "started_at"),
        Index("ix_session_records_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"))
    session_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="normal")  # normal | rating_only
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Hours since the epoch (UTC) of started_at: sessions per day/hour are grouped by this
    # integer, then placed in the account's time zone (no time-zone arithmetic in SQL).
    started_hour: Mapped[int] = mapped_column(Integer)
    # Why the session first went to a human: keyword | button | not_sure_streak | human_only |
    # opening_reached | servicer_took | … ; while it has not, that the customer asked for one:
    # off_hours | queue_full, or the reason of a transfer that did not happen (None: never asked).
    transfer_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    wait_seconds: Mapped[int | None] = mapped_column(Integer, default=None)  # in the pool
    taken: Mapped[bool] = mapped_column(Boolean, default=False)  # left the pool to a servicer
    servicer_userid: Mapped[str | None] = mapped_column(String(64), default=None)  # first to get it
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_response_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # What ended it, as the reception noted it: servicer_ended (in the WeCom app), kefu_ended
    # (Kefu's own trans → 4), expired_48h, reconciled (found ended by a state check), …
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    ended_servicer_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    # Why Kefu last asked WeCom to end it (idle_timeout | queue_timeout | ended_by_{who} of an end
    # by hand, kefu.reception.core.EndedByHand; ended_by_hand before who was kept): Kefu's
    # trans → 4 is asked in one decision and ends the session in a later one, whose note says only
    # that Kefu ended it (migration 0018; None before).
    end_requested: Mapped[str | None] = mapped_column(String(32), default=None)
    # Moves from one servicer to another (转接: in the WeCom app, or handed over in Kefu).
    servicer_transfers: Mapped[int] = mapped_column(Integer, default=0)
    # The ending message carried the satisfaction survey and WeCom took it (delivered, or
    # possibly: its answer was lost), so the customer could rate (参评率's denominator).
    survey_sent: Mapped[bool] = mapped_column(Boolean, default=False)


class SessionServicer(Base):
    """One servicer's part in one session (as session_log keeps it): whether they got it from a
    colleague, passed it on to one, and when they first wrote in it — the per-servicer 转接 and
    接入未回复 of reports. Keyed like ratings, by (conversation, session_no)."""

    __tablename__ = "session_servicers"
    __table_args__ = (UniqueConstraint("conversation_id", "session_no", "servicer_userid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    session_no: Mapped[int] = mapped_column(Integer)
    servicer_userid: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the first time they got it
    transferred_in: Mapped[bool] = mapped_column(Boolean, default=False)  # from another servicer
    transferred_out: Mapped[bool] = mapped_column(Boolean, default=False)  # to another servicer
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # first message


class FollowUp(Base):
    """留言: what a customer wrote after asking for a human off hours, or after a queue timeout,
    kept for servicers to work and close."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_account_status", "account_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # off_hours | queue_timeout
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    message_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
