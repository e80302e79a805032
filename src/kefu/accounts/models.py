"""Connections (one WeCom corp + self-built app) and the kf accounts under them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class Connection(Base):
    """新建接入: a corp's self-built app that may call the 微信客服 API, and its callback keys.

    Secrets are Fernet ciphertext (see kefu.accounts.secrets); the access token
    cache lives here too so every process shares it.
    """

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    secret_enc: Mapped[str] = mapped_column(Text)
    callback_token_enc: Mapped[str] = mapped_column(Text)
    aes_key_enc: Mapped[str] = mapped_column(Text)
    bootstrap: Mapped[str] = mapped_column(String(16), default="skip")  # skip | backfill
    access_token_enc: Mapped[str | None] = mapped_column(Text, default=None)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_check_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KfAccount(Base):
    """在线客服账号 (`open_kfid`) and its pull state: cursor and the latest callback token."""

    __tablename__ = "kf_accounts"
    __table_args__ = (UniqueConstraint("connection_id", "open_kfid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    open_kfid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(Text, default="")
    manage_privilege: Mapped[bool] = mapped_column(Boolean, default=True)
    # False once WeCom says (kf_account_auth_change) this app may no longer manage it.
    authorized: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Messages sent before this instant are stored as bootstrap under the `skip` policy.
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sync_cursor: Mapped[str | None] = mapped_column(String(128), default=None)
    sync_token: Mapped[str | None] = mapped_column(String(256), default=None)
    sync_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
