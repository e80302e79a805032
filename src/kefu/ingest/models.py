"""The message ledger and the record of every callback WeCom delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class Message(Base):
    """One item of an account's stream (`sync_msg`), or a message Kefu sent itself.

    `msgid` is unique per account: storing is insert-or-ignore, so a page pulled
    twice stores nothing twice. `bootstrap` marks history older than the account's
    connection (shown, never acted on).
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "msgid"),
        Index("ix_messages_conversation_time", "account_id", "external_userid", "send_time"),
        Index("ix_messages_retention", "body_deleted_at", "send_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"))
    msgid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    origin: Mapped[int] = mapped_column(Integer)  # 3 customer, 4 event, 5 servicer; 0 = sent by Kefu
    msgtype: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str | None] = mapped_column(String(64), default=None)
    servicer_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    send_time: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    bootstrap: Mapped[bool] = mapped_column(Boolean, default=False)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # msg_send_fail recorded against one of Kefu's own sends (fail_type of wecom-kf-api.md §4.2)
    send_fail_type: Mapped[int | None] = mapped_column(Integer, default=None)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The retention setting deleted the body (KEFU_RETAIN_MESSAGE_DAYS); the row stays for counts.
    body_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CallbackEvent(Base):
    """A decrypted callback, kept so that a failure of ours after the signature
    checked out can be retried instead of answered with an error.

    `replay_key` identifies the signed request (signature, timestamp, nonce): unique per
    connection, so the same request seen again, by any process, is recognised and not stored."""

    __tablename__ = "callback_events"
    __table_args__ = (UniqueConstraint("connection_id", "replay_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    open_kfid: Mapped[str | None] = mapped_column(String(64), default=None)
    xml: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="done")  # done | pending | failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replay_key: Mapped[str | None] = mapped_column(String(64), default=None)  # NULL: stored before 0004
