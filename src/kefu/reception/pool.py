"""The queue pool: who waits, in what order; and asking the corp's accounts with a pool for
dispatch rounds (kefu.reception.dispatch runs them; kefu.accounts.sync asks for one account's):
the shell asks when a servicer's session ends or their reception status changes, the sweep asks
for every pool, the servicer list asks when it is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.accounts.sync import request_dispatch
from kefu.ingest.models import Message
from kefu.reception.models import Conversation

STATE_POOL = 2
CUSTOMER = 3  # a message's origin


def request_dispatch_for_corp(session: Session, account: KfAccount, *, now: datetime) -> None:
    """A servicer's capacity is counted across the corp's accounts: ask each one with a pool."""
    ids = session.scalars(
        select(KfAccount.id)
        .where(KfAccount.connection_id == account.connection_id)
        .where(
            KfAccount.id.in_(select(Conversation.account_id).where(Conversation.wecom_state == STATE_POOL))
        )
    )
    for account_id in ids.all():
        request_dispatch(session, account_id, now=now)


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
