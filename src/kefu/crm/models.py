"""The CRM's tables: customers (companies), contacts (people), WeChat customers (one
`external_userid` of a connection) bound to at most one contact, and the binding history.

The exclusive servicer (专属客服) is a WeCom userid on a customer and/or a contact; the contact's
wins. `external_id` is the key an existing CRM upserts by (unique where set).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class CrmCustomer(Base):
    """A company."""

    __tablename__ = "crm_customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    name: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exclusive_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CrmContact(Base):
    """A person, of at most one company."""

    __tablename__ = "crm_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_customers.id", ondelete="SET NULL"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exclusive_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    # WeChat's unionid, when the CRM knows it: a WeChat customer with the same one is bound here.
    unionid: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WechatCustomer(Base):
    """A WeChat user as one connection (corp) sees them; `external_userid` is per corp."""

    __tablename__ = "wechat_customers"
    __table_args__ = (UniqueConstraint("connection_id", "external_userid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_userid: Mapped[str] = mapped_column(String(64))
    nickname: Mapped[str] = mapped_column(String(200), default="")
    avatar: Mapped[str] = mapped_column(String(500), default="")
    unionid: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_contacts.id", ondelete="SET NULL"), index=True, default=None
    )
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # last batchget
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CrmBinding(Base):
    """One bind or unbind of a WeChat customer: who did it and when (kept after the contact goes)."""

    __tablename__ = "crm_bindings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wechat_customer_id: Mapped[int] = mapped_column(
        ForeignKey("wechat_customers.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_contacts.id", ondelete="SET NULL"), default=None
    )
    contact_name: Mapped[str] = mapped_column(String(200))  # the contact's name then: it outlives them
    action: Mapped[str] = mapped_column(String(8))  # bind | unbind
    by: Mapped[str] = mapped_column(String(100))  # "token:<name>", "unionid", "cli", "migration"
    at: Mapped[datetime] = mapped_column(UTCDateTime)
