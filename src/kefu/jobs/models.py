"""The job table: durable work with per-key ordering, coalescing, deadlines and leases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime

# todo: waiting (maybe for its retry); doing: leased by a worker;
# succeeded / failed (out of attempts) / dropped (past its deadline): finished.
JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "dropped")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_runnable", "status", "run_at"),
        # "Is an earlier job of this lock still open?" on every claim: with the status in the
        # key that is two short range seeks, however many finished jobs the lock has had.
        Index("ix_jobs_lock_status", "lock", "status", "id"),
        # At most one waiting job per queueing lock (coalescing).
        Index(
            "uq_jobs_queueing_lock_todo",
            "queueing_lock",
            unique=True,
            sqlite_where=text("status = 'todo'"),
            postgresql_where=text("status = 'todo'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="todo")
    lock: Mapped[str | None] = mapped_column(String(128), default=None)
    queueing_lock: Mapped[str | None] = mapped_column(String(128), default=None)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    worker_id: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WorkerHeartbeat(Base):
    """A running worker's sign of life: `seen_at` is renewed every few seconds while it runs
    (its reap step), and the row removed when it stops cleanly. /readyz asks whether any
    worker was seen recently; a row left by a killed worker just grows old (and is pruned)."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
