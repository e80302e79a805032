"""Routing's tables: the round-robin pointer per account, every routing decision with its
explanation. Whose exclusive servicer a customer is comes from kefu.crm."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class RoundRobinPointer(Base):
    """Whom the account's rotation gave last: the next turn starts after them."""

    __tablename__ = "round_robin_pointers"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("kf_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    last_userid: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoutingDecisionRow(Base):
    """One routing decision: the outcome, the rule that decided, every candidate considered."""

    __tablename__ = "routing_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("kf_accounts.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    session_no: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # keyword, button, not_sure_streak, human_only, dispatch, …
    reason: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(8))  # assign | wait | pool
    rule: Mapped[str | None] = mapped_column(String(16), default=None)
    servicer_userid: Mapped[str | None] = mapped_column(String(64), default=None)
    explanation: Mapped[str] = mapped_column(Text)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # A take or transfer made in the WeCom app that put the servicer past their cap (Kefu never does).
    over_cap: Mapped[bool] = mapped_column(Boolean, default=False)
