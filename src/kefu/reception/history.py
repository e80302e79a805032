"""Reading a conversation's messages and records: the list of conversations, the transcript
(messages, timeline, unsettled actions, ratings in one order), and the process job's reads of the
customer's messages (the backlog behind a message, the recent turns an LLM is given).

Apart from kefu.reception.service, which keeps the records current: these only read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.ai.provider import Turn
from kefu.db import table_of
from kefu.ingest.models import Message
from kefu.reception.core import Backlog
from kefu.reception.models import Conversation, ConversationAction, Rating, TimelineEntry
from kefu.reception.schemas import TranscriptItem
from kefu.reception.service import SEND_KINDS, settled_statuses

SENDERS = {3: "customer", 4: "event", 5: "servicer", 0: "kefu"}


async def list_conversations(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    wecom_state: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Conversation]:
    """Most recently active first."""
    query = select(Conversation)
    if account_id is not None:
        query = query.where(Conversation.account_id == account_id)
    if wecom_state is not None:
        query = query.where(Conversation.wecom_state == wecom_state)
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


# Built once, on the tables (Core: `table_of`): they run for every processed message.
_MESSAGES = table_of(Message).c
_ACTIONS = table_of(ConversationAction).c

# The customer's messages after one, newest first.
_NEWER_MESSAGES = (
    select(_MESSAGES.msgid, _MESSAGES.send_time, func.count().over().label("newer"))
    .where(
        _MESSAGES.account_id == bindparam("account_id"),
        _MESSAGES.external_userid == bindparam("external_userid"),
        _MESSAGES.id > bindparam("after_id"),
        _MESSAGES.origin == 3,
        _MESSAGES.bootstrap.is_(False),
    )
    .order_by(_MESSAGES.id.desc())
    .limit(1)
)


# Kefu's sends pending, or finished since a time, in one conversation.
_SENDS_SINCE = select(func.count()).where(
    _ACTIONS.conversation_id == bindparam("conversation_id"),
    _ACTIONS.kind == "send",
    (_ACTIONS.status == "pending")
    | (
        # OR of equalities, not IN: an IN list is expanded again at every execution.
        ((_ACTIONS.status == "done") | (_ACTIONS.status == "possibly_delivered"))
        & (_ACTIONS.finished_at >= bindparam("since"))
    ),
)


def customer_backlog(session: Session, message: Message, conversation_id: int | None) -> Backlog:
    """The customer's newest pulled message (this one or later), and Kefu's sends counted against it."""
    # The newest later message and how many there are, in one statement (usually no row at all).
    newest = session.execute(
        _NEWER_MESSAGES,
        {
            "account_id": message.account_id,
            "external_userid": message.external_userid,
            "after_id": message.id,
        },
    ).first()
    newer, newest_msgid, newest_at = 0, message.msgid, message.send_time
    if newest is not None:
        newer, newest_msgid, newest_at = newest.newer, newest.msgid, newest.send_time
    sends = 0
    if conversation_id is not None:
        # send_time has whole seconds: a send finished in the same second is counted (it may be later).
        sends = session.scalar(_SENDS_SINCE, {"conversation_id": conversation_id, "since": newest_at}) or 0
    return Backlog(newer=newer, newest_msgid=newest_msgid, newest_at=newest_at, sends_after_newest=sends)


TURN_ROLES: dict[int, Literal["customer", "servicer", "ai"]] = {3: "customer", 5: "servicer", 0: "ai"}


def recent_turns(session: Session, message: Message, limit: int = 6) -> list[Turn]:
    """The conversation's text messages before `message`, oldest first: context for an LLM."""
    rows = session.scalars(
        select(Message)
        .where(
            Message.account_id == message.account_id,
            Message.external_userid == message.external_userid,
            Message.id < message.id,
            Message.origin.in_(TURN_ROLES),
            Message.msgtype.in_(("text", "msgmenu")),
            Message.recalled_at.is_(None),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [Turn(role=TURN_ROLES[m.origin], text=message_text(m.payload, m.msgtype)) for m in rows][::-1]


BODY_DELETED_TEXT = "（内容已过保留期限，已删除）"


def message_text(payload: dict[str, Any], msgtype: str) -> str:
    """A one-line reading of a message for people: the text, a menu's words, or the type."""
    if payload.get("body_deleted_at"):
        return BODY_DELETED_TEXT  # retention (reception/retention.py)
    body = payload.get(msgtype)
    if msgtype == "text" and isinstance(body, dict):
        return str(body.get("content", ""))
    if msgtype == "msgmenu" and isinstance(body, dict):
        items = [
            str(item.get(item.get("type", ""), {}).get("content", ""))
            for item in body.get("list") or []
            if isinstance(item, dict)
        ]
        parts = [
            body.get("head_content") or "",
            *(f"[{label}]" for label in items),
            body.get("tail_content") or "",
        ]
        return " ".join(p for p in parts if p)
    if msgtype == "event":
        event = payload.get("event") or {}
        return str(event.get("event_type", "event"))
    return f"[{msgtype}]"


async def transcript(session: AsyncSession, conversation: Conversation) -> list[TranscriptItem]:
    """Everything of the conversation in order: messages (Kefu's own sends included), timeline
    entries, actions that did not (or not yet) succeed — refused, failed, dropped, waiting —
    and ratings."""
    ranked: list[tuple[int, datetime, int, int, TranscriptItem]] = []

    def add(wecom_at: datetime, kefu_at: datetime, rank: int, seq: int, item: TranscriptItem) -> None:
        # WeCom stamps whole seconds; within a second, the order Kefu saw or did things.
        ranked.append((int(wecom_at.timestamp()), kefu_at, rank, seq, item))

    messages = await session.scalars(
        select(Message).where(
            Message.account_id == conversation.account_id,
            Message.external_userid == conversation.external_userid,
        )
    )
    for m in messages:
        meta = m.payload.get("kefu") if m.origin == 0 else None
        item = TranscriptItem(
            at=m.send_time,
            type="message",
            sender=SENDERS.get(m.origin, "event"),  # type: ignore[arg-type]
            msgid=m.msgid,
            msgtype=m.msgtype,
            text=message_text(m.payload, m.msgtype),
            recalled=m.recalled_at is not None,
            send_fail_type=m.send_fail_type,
            possibly_delivered=bool(meta and meta.get("possibly_delivered")),
            kind=m.event_type or (meta or {}).get("purpose"),
            detail={"servicer_userid": m.servicer_userid} if m.servicer_userid else {},
        )
        # Kefu's sends sort with the outbox (after the decision that made them), by action id.
        seen = m.send_time if meta else (m.processed_at or m.stored_at)
        add(m.send_time, seen, 2 if meta else 0, int(meta["action_id"]) if meta else m.id, item)
    entries = await session.scalars(
        select(TimelineEntry).where(TimelineEntry.conversation_id == conversation.id)
    )
    for entry in entries:
        item = TranscriptItem(at=entry.at, type="timeline", kind=entry.kind, detail=entry.detail)
        add(entry.at, entry.at, 1, entry.id, item)
    actions = (
        await session.scalars(
            select(ConversationAction).where(ConversationAction.conversation_id == conversation.id)
        )
    ).all()
    statuses = await session.run_sync(settled_statuses, actions, [conversation])
    for action in actions:
        status = statuses[action.id]
        if status == "done" or (action.kind in SEND_KINDS and status == "possibly_delivered"):
            continue  # shown as the message it sent, or by the timeline and the records it changed
        detail = dict((action.payload or {}).get("action") or {})
        item = TranscriptItem(
            at=action.finished_at or action.created_at,
            type="action",
            msgid=action.msgid,
            kind=action.kind,
            status=status,
            errcode=action.errcode,
            error=action.error,
            detail=detail,
        )
        add(item.at, item.at, 2, action.id, item)
    ratings = await session.scalars(select(Rating).where(Rating.conversation_id == conversation.id))
    for rating in ratings:
        item = TranscriptItem(
            at=rating.created_at,
            type="rating",
            kind="rating",
            text=rating.label,
            detail={
                "session_no": rating.session_no,
                "score": rating.score,
                "servicer_userid": rating.servicer_userid,
            },
        )
        add(rating.created_at, rating.created_at, 1, rating.id, item)
    ranked.sort(key=lambda r: r[:4])
    return [item for *_, item in ranked]
