"""The conversation events the outgoing webhook tells (kefu.crm.webhooks): a session started,
a session ended, a session rated. Read off one decision (the state before and after, and its
actions) and queued in the decision's transaction, so an event goes out only if it is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.crm.webhooks import emit
from kefu.reception.core import ConversationState, Decision, RecordRating
from kefu.reception.models import Conversation
from kefu.settings import Settings

ENDED = 4


def emit_conversation_events(
    session: Session,
    process: Settings,
    *,
    account: KfAccount,
    conversation: Conversation,
    before: ConversationState,
    decision: Decision,
    now: datetime,
) -> None:
    if not process.webhook_url:
        return
    after = decision.state
    base: dict[str, Any] = {
        "account_id": account.id,
        "open_kfid": account.open_kfid,
        "conversation_id": conversation.id,
        "external_userid": conversation.external_userid,
    }
    if before.wecom_state != ENDED and after.wecom_state == ENDED and before.session_no:
        ended = {"session_no": before.session_no, "servicer_userid": before.servicer_userid}
        emit(session, process, "conversation.session_ended", base | ended, now=now)
    if after.session_no != before.session_no:
        emit(
            session, process, "conversation.session_started", base | {"session_no": after.session_no}, now=now
        )
    for action in decision.actions:
        if isinstance(action, RecordRating):
            rated = {
                "session_no": action.session_no,
                "score": action.score,
                "label": action.label,
                "servicer_userid": action.servicer_userid,
            }
            emit(session, process, "conversation.rated", base | rated, now=now)
