"""Human sessions that need a supervisor's eye: customers waiting for their servicer's word."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.reception.core.state import STATE_HUMAN
from kefu.reception.models import Conversation


async def awaiting_reply(
    session: AsyncSession, account_id: int, *, since_before: datetime
) -> list[Conversation]:
    """Human sessions of the account whose customer waits for the servicer since before then,
    longest first."""
    query = (
        select(Conversation)
        .where(
            Conversation.account_id == account_id,
            Conversation.wecom_state == STATE_HUMAN,
            Conversation.awaiting_reply_since <= since_before,
        )
        .order_by(Conversation.awaiting_reply_since, Conversation.id)
    )
    return list((await session.scalars(query)).all())
