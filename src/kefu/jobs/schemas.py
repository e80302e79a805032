"""How a job is shown to people and programs (CLI --json, console, API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task: str
    args: dict[str, Any]
    status: str
    lock: str | None
    queueing_lock: str | None
    attempts: int
    max_attempts: int
    run_at: datetime
    deadline: datetime | None
    locked_until: datetime | None
    worker_id: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
