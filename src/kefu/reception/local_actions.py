"""Actions that touch only Kefu's own records (no WeCom call): applied in the decision's
transaction, their outbox row stored `done`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.ingest.models import Message
from kefu.reception.core import MarkRecalled, RecordFollowUp, RecordRating, RecordRouting, RecordSendFailure
from kefu.reception.follow_ups import record_follow_up
from kefu.reception.models import Conversation, ConversationAction, Rating
from kefu.routing import service as routing_service

LocalAction = RecordRating | RecordRouting | RecordFollowUp | MarkRecalled | RecordSendFailure
LOCAL_ACTIONS = (RecordRating, RecordRouting, RecordFollowUp, MarkRecalled, RecordSendFailure)


def apply_local(
    session: Session,
    conversation: Conversation,
    action: LocalAction,
    *,
    message: Message | None,
    now: datetime,
) -> None:
    """Apply an action that touches only Kefu's records, in the decision's transaction."""
    if isinstance(action, RecordFollowUp):
        record_follow_up(session, conversation, action, message=message, now=now)
        return
    if isinstance(action, RecordRouting):
        routing_service.record_decision(
            session,
            account_id=conversation.account_id,
            conversation_id=conversation.id,
            session_no=conversation.session_no,
            decision=action.decision,
            reason=action.reason,
            now=now,
        )
        return
    if isinstance(action, RecordRating):
        exists = session.scalar(
            select(Rating.id).where(
                Rating.conversation_id == conversation.id, Rating.session_no == action.session_no
            )
        )
        if exists is None:  # the first rating wins
            session.add(
                Rating(
                    conversation_id=conversation.id,
                    session_no=action.session_no,
                    score=action.score,
                    label=action.label,
                    servicer_userid=action.servicer_userid,
                    message_id=message.id if message is not None else None,
                    created_at=now,
                )
            )
        return
    target = session.scalar(
        select(Message).where(Message.account_id == conversation.account_id, Message.msgid == action.msgid)
    )
    if isinstance(action, MarkRecalled):
        if target is not None and target.recalled_at is None:
            target.recalled_at = message.send_time if message is not None else now
        return
    if target is not None:
        target.send_fail_type = action.fail_type
    sent = session.scalar(
        select(ConversationAction).where(
            ConversationAction.conversation_id == conversation.id, ConversationAction.msgid == action.msgid
        )
    )
    if sent is not None:
        sent.error = f"WeCom reported msg_send_fail fail_type {action.fail_type} after accepting it"
