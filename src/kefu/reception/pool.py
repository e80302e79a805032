"""The queue pool: who waits, in what order, and which accounts have one (dispatch rounds are
asked of those: kefu.accounts.sync asks, kefu.reception.dispatch runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.ingest.models import Message
from kefu.reception.models import Conversation

STATE_POOL = 2
CUSTOMER = 3  # a message's origin


# The ids of the accounts with customers waiting: the sweep's, and the corp's rounds the shell
# asks for when a servicer may have room (`request_dispatch_for_connection(…, among=…)`).
ACCOUNTS_WITH_A_POOL = (
    select(Conversation.account_id).where(Conversation.wecom_state == STATE_POOL).distinct()
)


@dataclass(frozen=True)
class Waiting:
    conversation: Conversation
    position: int  # 1 = next in line
    first_question: str | None  # the customer's first text of this session


async def in_queue_order(session: AsyncSession, account_id: int) -> list[Conversation]:
    """The account's waiting conversations, who came first first."""
    query = (
        select(Conversation)
        .where(Conversation.account_id == account_id, Conversation.wecom_state == STATE_POOL)
        .order_by(Conversation.queued_at.is_(None), Conversation.queued_at, Conversation.id)
    )
    return list((await session.scalars(query)).all())


async def waiting_line(session: AsyncSession, account_id: int) -> list[Waiting]:
    """The account's pool in queue order, with what each customer asked."""
    rows = await in_queue_order(session, account_id)
    firsts = await _first_questions(session, account_id, rows)
    return [
        Waiting(conversation, position, firsts.get(conversation.external_userid))
        for position, conversation in enumerate(rows, start=1)
    ]


async def _first_questions(
    session: AsyncSession, account_id: int, rows: list[Conversation]
) -> dict[str, str | None]:
    """Each waiting customer's first text since their session started, in one query (not one
    per customer: the pool page lists them all on every live refresh)."""
    if not rows:
        return {}
    started = {
        c.external_userid: datetime.fromisoformat(at)
        if (at := (c.state or {}).get("session_started_at"))
        else None
        for c in rows
    }
    query = (
        select(Message.external_userid, Message.send_time, Message.payload)
        .where(
            Message.account_id == account_id,
            Message.external_userid.in_(list(started)),
            Message.origin == CUSTOMER,
            Message.msgtype == "text",
        )
        .order_by(Message.external_userid, Message.send_time, Message.id)
    )
    if all(at is not None for at in started.values()):
        query = query.where(Message.send_time >= min(at for at in started.values() if at is not None))
    firsts: dict[str, str | None] = {}
    for userid, send_time, payload in (await session.execute(query)).all():
        since = started.get(userid)
        if userid in firsts or (since is not None and send_time < since):
            continue
        firsts[userid] = ((payload or {}).get("text") or {}).get("content")
    return firsts
