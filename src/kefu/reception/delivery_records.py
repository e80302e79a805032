"""What a delivery (kefu.reception.delivery) records on its outbox row: the row as read
(`Outbox`), each try begun before its WeCom call, a retry's backoff or a failure for good, and
the outcome settled in one transaction with Kefu's own message and the feed-back job.

Apart from the delivery job's calls to WeCom: these are its only writes (and, for an ending
that carried the survey, its session's record: kefu.reception.session_log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kefu.accounts.models import Connection, KfAccount
from kefu.db import table_of, write_row
from kefu.ingest.models import Message
from kefu.jobs.current import finish_job_in
from kefu.jobs.registry import RetryLater
from kefu.jobs.wakeup import announce_change
from kefu.logs import get_logger
from kefu.reception import service
from kefu.reception.core import Inbound, Reconcile, Send, SendOnEvent, Transfer
from kefu.reception.models import Conversation, ConversationAction, TimelineEntry
from kefu.reception.session_log import record_survey_sent
from kefu.reception.shell import add_feed, msgid_for
from kefu.runtime import Runtime
from kefu.wecom.outbound import OutboundMessage

log = get_logger(__name__)

MAX_TRIES = 5
BACKOFF_CAP_S = 120.0
ORIGIN_KEFU = 0


@dataclass(frozen=True)
class Try:
    number: int  # 1 for the first try
    uncertain: bool  # an earlier try got no answer (a crash, a lost lease): it may have landed


@dataclass(frozen=True)
class Outbox:
    """One pending outbox row and what delivering it needs, read in one short transaction,
    with its try already begun there (`attempt`) unless something must be done first (the AI
    wording a send, an idle end's look at the customer's messages)."""

    action_id: int
    action: Send | SendOnEvent | Transfer | Reconcile
    payload: dict[str, Any]
    msgid: str | None
    conversation: Conversation
    account: KfAccount
    connection: Connection
    facts: dict[str, str]  # what only the shell knows to word it (service.shell_facts)
    attempt: Try | None = None

    @property
    def tries(self) -> int:
        return int(self.payload.get("tries", 0))


async def _begin_try(rt: Runtime, action_id: int, **changes: Any) -> Try | None:
    """Record a try before the call (None: the row is already settled). `tries` counts the tries
    begun, `answered` those WeCom answered with a plain no; a gap means one may have landed."""
    return await rt.db.run_write(_record_try, action_id, changes)


def _record_try(session: Session, action_id: int, changes: dict[str, Any]) -> Try | None:
    row = session.get(ConversationAction, action_id)  # in _take_outbox: already loaded, no SELECT
    if row is None or row.status != "pending":
        return None
    payload = row.payload or {}
    begun, answered = int(payload.get("tries", 0)), int(payload.get("answered", 0))
    msgid = row.msgid
    if row.kind in service.SEND_KINDS and msgid is None:
        msgid = msgid_for(row.id, row.conversation_id)  # named on the row before the first call
    # Written at once (write_row): every delivery begins a try, and a flush of it cost more.
    write_row(session, row, payload=service.action_payload(row, tries=begun + 1, **changes), msgid=msgid)
    return Try(number=begun + 1, uncertain=begun > answered)


async def _retry_or_fail(
    rt: Runtime,
    outbox: Outbox,
    attempt: Try,
    error: str,
    *,
    errcode: int | None = None,
    feed: Inbound | None = None,
) -> None:
    """WeCom said no (or could not be reached): try again later under the same msgid, or record
    the failure for good (visible on the conversation) once MAX_TRIES are spent; `feed` is fed
    back on failure."""
    if attempt.number >= MAX_TRIES:
        await _finish(rt, outbox, "failed", errcode=errcode, error=error, feed=feed)
        return
    async with rt.db.write() as session:
        row = await session.get(ConversationAction, outbox.action_id)
        if row is None or row.status != "pending":
            return
        row.payload = service.action_payload(row, answered=attempt.number)
        row.errcode, row.error = errcode, error  # the last answer, shown while it waits
    raise RetryLater(min(BACKOFF_CAP_S, 2.0**attempt.number), error)


async def _finish(
    rt: Runtime,
    outbox: Outbox,
    status: str,
    *,
    errcode: int | None = None,
    error: str | None = None,
    sent: OutboundMessage | None = None,
    feed: Inbound | None = None,
) -> None:
    """Settle the row, store Kefu's own message, and feed the outcome back: one transaction."""
    await rt.db.run_write(_settle, outbox, status, errcode, error, sent, feed, rt.clock.now())
    log.info(
        "reception.delivered",
        action_id=outbox.action_id,
        conversation_id=outbox.conversation.id,
        kind=type(outbox.action).__name__,
        status=status,
        errcode=errcode,
    )


# Built once, like the two statements of `_store_sent`, on the tables (Core: `table_of`): they
# run for every send, and building them cost about as much as running them.
_ACTION = table_of(ConversationAction).c
_SETTLE_PENDING = (
    update(table_of(ConversationAction))
    .where(_ACTION.id == bindparam("action_id"), _ACTION.status == "pending")
    .values(
        status=bindparam("outcome", type_=_ACTION.status.type),
        errcode=bindparam("code", type_=_ACTION.errcode.type),
        error=bindparam("reason", type_=_ACTION.error.type),
        finished_at=bindparam("at", type_=_ACTION.finished_at.type),
    )
)
_MESSAGE = table_of(Message).c
_STORE_SENT = {
    dialect: dialect_insert(table_of(Message))
    .values(
        account_id=bindparam("of_account", type_=_MESSAGE.account_id.type),
        msgid=bindparam("sent_msgid", type_=_MESSAGE.msgid.type),
        external_userid=bindparam("to_customer", type_=_MESSAGE.external_userid.type),
        origin=ORIGIN_KEFU,
        msgtype=bindparam("sent_msgtype", type_=_MESSAGE.msgtype.type),
        send_time=bindparam("at", type_=_MESSAGE.send_time.type),
        payload=bindparam("body", type_=_MESSAGE.payload.type),
        bootstrap=False,
        processed_at=bindparam("at", type_=_MESSAGE.processed_at.type),
        stored_at=bindparam("at", type_=_MESSAGE.stored_at.type),
    )
    .on_conflict_do_nothing(index_elements=["account_id", "msgid"])
    .returning(_MESSAGE.id)
    for dialect, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_CONVERSATION = table_of(Conversation).c
_MOVE_LAST_MESSAGE = (
    update(table_of(Conversation))
    .where(
        _CONVERSATION.id == bindparam("conversation_id"),
        or_(_CONVERSATION.last_message_at.is_(None), _CONVERSATION.last_message_at <= bindparam("at")),
    )
    .values(last_message_at=bindparam("at", type_=_CONVERSATION.last_message_at.type))
)


def _settle(
    session: Session,
    outbox: Outbox,
    status: str,
    errcode: int | None,
    error: str | None,
    sent: OutboundMessage | None,
    feed: Inbound | None,
    now: datetime,
) -> None:
    finish_job_in(session, now)  # a delivery's last write: its job completes with it
    # Guarded: a redo (or a worker that lost its lease) finds the row settled and changes nothing.
    settled = session.execute(
        _SETTLE_PENDING,
        {"action_id": outbox.action_id, "outcome": status, "code": errcode, "reason": error, "at": now},
    )
    if settled.rowcount != 1:  # type: ignore[attr-defined]
        return
    conversation = outbox.conversation
    if sent is not None and outbox.msgid is not None:
        _store_sent(session, outbox, sent, now=now, possibly=status == "possibly_delivered")
    if sent is not None and isinstance(outbox.action, SendOnEvent):
        record_survey_sent(session, conversation.id, outbox.action)
    if status != "done":
        detail = {
            "action_id": outbox.action_id,
            "kind": outbox.action.kind,
            "status": status,
            "errcode": errcode,
        }
        session.add(
            TimelineEntry(conversation_id=conversation.id, at=now, kind="delivery_" + status, detail=detail)
        )
    if feed is not None:
        add_feed(session, conversation, outbox.account.id, feed, now=now, source_action_id=outbox.action_id)


def _store_sent(
    session: Session, outbox: Outbox, sent: OutboundMessage, *, now: datetime, possibly: bool
) -> None:
    """Kefu's own message in the ledger (origin 0), since sync_msg never returns it: inserted
    unless the msgid is already there, and the conversation's last message time moved on, without
    reading either row first."""
    action = outbox.action
    assert isinstance(action, Send | SendOnEvent)
    meta = {
        "action_id": outbox.action_id,
        "purpose": action.purpose,
        "via": "send_msg_on_event" if isinstance(action, SendOnEvent) else "send_msg",
        "possibly_delivered": possibly,
    }
    stored = session.execute(
        _STORE_SENT[session.get_bind().dialect.name],
        {
            "of_account": outbox.account.id,
            "sent_msgid": outbox.msgid,
            "to_customer": outbox.conversation.external_userid,
            "sent_msgtype": sent.msgtype,
            "body": {**sent.to_body(), "kefu": meta},
            "at": now,
        },
    ).first()
    if stored is None:
        return
    announce_change(session)  # the transcript has a new line
    session.execute(_MOVE_LAST_MESSAGE, {"conversation_id": outbox.conversation.id, "at": now})
