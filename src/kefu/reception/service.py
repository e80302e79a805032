"""Conversation records. The reception engine (decide) builds on this."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.ingest.models import Message
from kefu.reception.models import Conversation

CUSTOMER = 3


async def get_or_create_conversation(
    session: AsyncSession, account_id: int, external_userid: str, *, now: datetime
) -> Conversation:
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.account_id == account_id, Conversation.external_userid == external_userid
        )
    )
    if conversation is None:
        conversation = Conversation(
            account_id=account_id, external_userid=external_userid, created_at=now, updated_at=now
        )
        session.add(conversation)
        await session.flush()
    return conversation


async def note_message(session: AsyncSession, message: Message, *, now: datetime) -> Conversation | None:
    """Keep the conversation record current: its customer and last message times."""
    if not message.external_userid:
        return None
    conversation = await get_or_create_conversation(
        session, message.account_id, message.external_userid, now=now
    )
    if conversation.last_message_at is None or message.send_time > conversation.last_message_at:
        conversation.last_message_at = message.send_time
    if message.origin == CUSTOMER and (
        conversation.last_customer_message_at is None
        or message.send_time > conversation.last_customer_message_at
    ):
        conversation.last_customer_message_at = message.send_time
    conversation.updated_at = now
    return conversation
