"""Connections (one WeCom corp + self-built app) and the kf accounts under them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class Connection(Base):
    """新建接入: a corp's self-built app that may call the 微信客服 API, and its callback keys.

    Secrets are Fernet ciphertext (see kefu.secretbox); the access token
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
    # A process fetching the token claims it until then (database time), so others wait for it.
    token_fetch_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
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
    # The account's settings as in the config file's `accounts[]` entry (reception, hours,
    # queue, routing, messages, session, timezone); every change is kept in settings_versions.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    settings_version: Mapped[int] = mapped_column(Integer, default=0)
    avatar_path: Mapped[str | None] = mapped_column(Text, default=None)
    avatar_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    contact_scene: Mapped[str | None] = mapped_column(String(32), default=None)
    contact_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Servicer(Base):
    """接待人员: a WeCom userid in an account's reception list, in the admin's order."""

    __tablename__ = "servicers"
    __table_args__ = (UniqueConstraint("account_id", "userid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    max_sessions: Mapped[int | None] = mapped_column(Integer, default=None)  # None: the account default
    # The name the admin gives (WeCom's servicer/list has none); the console shows a bound
    # console user's display name before it, and the userid without either.
    name: Mapped[str | None] = mapped_column(String(64), default=None)
    # servicer/list encoding: 0 = 接待中, 1 = 停止接待; stop_type 1 = 暂时挂起
    status: Mapped[int] = mapped_column(Integer, default=0)
    stop_type: Mapped[int] = mapped_column(Integer, default=0)
    # False until WeCom's servicer/add accepted it (per-item result); the error says why not.
    in_wecom: Mapped[bool] = mapped_column(Boolean, default=False)
    # When their last human session ended: `idle` routing prefers who has waited longest.
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SettingsVersion(Base):
    """Every change of an account's settings (scope `account:{id}`) or of a global section
    (scope `ai`): who, when, through what, and the whole new value."""

    __tablename__ = "settings_versions"
    __table_args__ = (UniqueConstraint("scope", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # console | config | api | cli
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GlobalSetting(Base):
    """Settings that are not per account (the `ai:` section of the config file)."""

    __tablename__ = "global_settings"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KnowledgeEntryRow(Base):
    """One question/answer of an account's knowledge base (the built-in AI)."""

    __tablename__ = "knowledge_entries"
    __table_args__ = (UniqueConstraint("account_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    alt_questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
