"""留言: what customers left for servicers after asking for a human off hours or after a queue
timeout — one open follow-up per conversation, its messages in order, worked and closed by people."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.db import get_row
from kefu.errors import Conflict
from kefu.ingest.models import Message
from kefu.reception.core import RecordFollowUp
from kefu.reception.models import Conversation, FollowUp


def record_follow_up(
    session: Session,
    conversation: Conversation,
    action: RecordFollowUp,
    *,
    message: Message | None,
    now: datetime,
) -> FollowUp:
    """Add the message to the conversation's open follow-up, opening one if there is none."""
    row = session.scalar(
        select(FollowUp).where(FollowUp.conversation_id == conversation.id, FollowUp.status == "open")
    )
    at = message.send_time if message is not None else now
    if row is None:
        row = FollowUp(
            account_id=conversation.account_id,
            conversation_id=conversation.id,
            reason=action.reason,
            status="open",
            message_ids=[],
            opened_at=at,
            last_message_at=at,
        )
        session.add(row)
    if message is not None and message.id not in row.message_ids:
        row.message_ids = [*row.message_ids, message.id]  # reassigned: JSON columns save on assignment
    row.last_message_at = max(row.last_message_at, at)
    session.flush()
    return row


async def follow_ups(session: AsyncSession, account_id: int, *, status: str) -> list[FollowUp]:
    query = (
        select(FollowUp)
        .where(FollowUp.account_id == account_id, FollowUp.status == status)
        .order_by(FollowUp.opened_at, FollowUp.id)
    )
    return list((await session.scalars(query)).all())


async def messages_of(session: AsyncSession, follow_up: FollowUp) -> list[Message]:
    if not follow_up.message_ids:
        return []
    query = (
        select(Message).where(Message.id.in_(follow_up.message_ids)).order_by(Message.send_time, Message.id)
    )
    return list((await session.scalars(query)).all())


async def close_follow_up(
    session: AsyncSession, follow_up_id: int, *, by: str, note: str | None, now: datetime
) -> FollowUp:
    row = await get_row(session, FollowUp, follow_up_id, "follow-up", with_for_update=True)
    if row.status == "closed":
        raise Conflict(
            f"follow-up {follow_up_id} was closed by {row.closed_by} already",
            "already_closed",
            {"by": row.closed_by or ""},
        )
    row.status, row.closed_at, row.closed_by, row.note = "closed", now, by[:64], note
    return row
