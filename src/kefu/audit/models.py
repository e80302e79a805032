"""One row per change: the actor, the action, the target and the fields that changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # "console:alice", "api:token-name", "cli", "config" — a name, not a foreign key, so the
    # record outlives the user or token it names.
    actor: Mapped[str] = mapped_column(String(96), index=True)
    action: Mapped[str] = mapped_column(String(64))  # e.g. "account.settings.update"
    target: Mapped[str] = mapped_column(String(128), index=True)  # e.g. "account:3"
    # {field: [before, after]}; secrets appear only as "(changed)".
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
