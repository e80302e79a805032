"""What the API answers about routing: decisions with their explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RoutingDecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    session_no: int
    decided_at: datetime
    reason: str = Field(
        description="what asked for a human: keyword, button, not_sure_streak, human_only, dispatch, …"
    )
    outcome: str = Field(description="assign | wait (for servicer_userid, in the pool) | pool")
    rule: str | None = Field(description="the rule that decided; null: the pool after the last rule")
    servicer_userid: str | None
    explanation: str = Field(
        description="one line, e.g. 专属客服：张三不在接待中 → 空闲接待 → 李四（当前 2 个会话）"
    )
    steps: list[dict[str, Any]]
    over_cap: bool = Field(description="a take or a move in the WeCom app put the servicer past their cap")
