"""The reception engine's imperative shell: one pulled message (or fed-back outcome) through decide().

    process_message(rt, message_id)      the `ingest.process` job, under the conversation lock
    decide_and_apply(session, …)         load inputs, decide, persist state + outbox + jobs + timers

Inputs are loaded and the outcome persisted in ONE write transaction; the AI is asked
before it (network, outside any transaction) and only when `wants_ai_answer` says so.
Every network action becomes a `conversation_actions` row and a `reception.deliver` job
in that same transaction; actions that only touch our own records (a rating, a recall,
a send failure) are applied right there.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu import metrics
from kefu.accounts.models import KfAccount
from kefu.ai.provider import Answer, AnswerContext, Turn
from kefu.crm.tasks import FETCH_TASK
from kefu.ingest.models import Message
from kefu.ingest.service import conversation_lock
from kefu.jobs.current import finish_job
from kefu.jobs.queue import add_job, enqueue
from kefu.jobs.wakeup import announce_change
from kefu.logs import get_logger
from kefu.reception import service
from kefu.reception.core import (
    INBOUND_ADAPTER,
    AccountSettings,
    Action,
    ConversationState,
    CustomerNonText,
    CustomerText,
    Decision,
    EnterSession,
    IdleCheck,
    Inbound,
    OpeningReached,
    Recall,
    RecordRouting,
    RosterNeeded,
    SendFailed,
    SendOnEvent,
    ServicerMessage,
    SessionStatusChange,
    Transfer,
    decide,
    wants_ai_answer,
)
from kefu.reception.events import emit_conversation_events
from kefu.reception.local_actions import LOCAL_ACTIONS, apply_local
from kefu.reception.models import Conversation, ConversationAction, TimelineEntry
from kefu.reception.pool import STATE_POOL, request_dispatch, request_dispatch_for_corp
from kefu.reception.session_log import record_sessions
from kefu.runtime import Runtime
from kefu.settings import Settings
from kefu.wecom.payloads import ServicerStatusChangeEvent, SyncItem, TextContent

log = get_logger(__name__)

DELIVER_TASK = "reception.deliver"
FEED_TASK = "reception.feed"
TICK_TASK = "reception.tick"
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
AI_ANSWER_TIMEOUT_S = 10.0
TIMER_RETRY = timedelta(minutes=1)
ORIGIN_CUSTOMER, ORIGIN_EVENT, ORIGIN_SERVICER = 3, 4, 5
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if number == 0:
            return digits


def msgid_for(action_id: int, conversation_id: int) -> str:
    """The msgid of an outbox row's send: stable across redos, unique in the account (≤ 32 chars)."""
    return f"kefu{_base36(action_id)}x{_base36(conversation_id)}"


# --- pulled items as decide() inputs ----------------------------------------------------------


@dataclass(frozen=True)
class ServicerStatus:
    """`servicer_status_change`: not a conversation's business; it updates the servicer's row."""

    userid: str
    status: int
    stop_type: int | None


def inbound_of(message: Message) -> Inbound | ServicerStatus | None:
    """What a stored `sync_msg` item means to the reception engine (None: nothing to decide)."""
    item = SyncItem.from_raw(message.payload)
    at = message.send_time
    if message.origin == ORIGIN_CUSTOMER:
        if isinstance(item.content, TextContent):
            return CustomerText(
                msgid=message.msgid, text=item.content.content, menu_id=item.content.menu_id, sent_at=at
            )
        return CustomerNonText(msgid=message.msgid, msgtype=message.msgtype, sent_at=at)
    if message.origin == ORIGIN_SERVICER:
        servicer = message.servicer_userid or item.servicer_userid or ""
        return ServicerMessage(msgid=message.msgid, servicer_userid=servicer, sent_at=at)
    if message.origin != ORIGIN_EVENT or item.event is None:
        return None
    event, fields = item.event, item.event.model_dump()
    match event.event_type:
        case "enter_session":
            return EnterSession(
                msgid=message.msgid,
                welcome_code=fields.get("welcome_code") or None,
                scene=fields.get("scene"),
                scene_param=fields.get("scene_param"),
                sent_at=at,
            )
        case "session_status_change" if fields.get("change_type") in (1, 2, 3, 4):
            return SessionStatusChange(
                msgid=message.msgid,
                change_type=fields["change_type"],
                old_servicer_userid=fields.get("old_servicer_userid") or None,
                new_servicer_userid=fields.get("new_servicer_userid") or None,
                msg_code=fields.get("msg_code") or None,
                sent_at=at,
            )
        case "msg_send_fail" if fields.get("fail_msgid"):
            return SendFailed(
                msgid=message.msgid, fail_msgid=fields["fail_msgid"], fail_type=fields.get("fail_type") or 0
            )
        case "user_recall_msg" | "servicer_recall_msg" if fields.get("recall_msgid"):
            by: Literal["customer", "servicer"] = (
                "customer" if event.event_type == "user_recall_msg" else "servicer"
            )
            return Recall(msgid=message.msgid, recall_msgid=fields["recall_msgid"], by=by)
        case "servicer_status_change" if isinstance(event, ServicerStatusChangeEvent):
            return ServicerStatus(event.servicer_userid, event.status, event.stop_type)
    return None


# --- inputs ----------------------------------------------------------------------------------


async def load_settings(session: AsyncSession, account: KfAccount) -> AccountSettings:
    return await service.load_account_settings(session, account)


async def ask_ai(
    rt: Runtime, account_id: int, question: str, message: Message | None = None
) -> Answer | None:
    """The AI's answer, or None when it fails or is too slow (decide then says it is not sure).
    A provider that reads the conversation (`reads_recent_turns`, the LLM) gets the turns before
    `message`; the built-in knowledge base does not, so they are not read for it."""
    from kefu.accounts.knowledge_base import ai_for_account

    started = time.perf_counter()
    try:
        provider = await asyncio.wait_for(ai_for_account(rt, account_id), AI_ANSWER_TIMEOUT_S)
        # An LLM provider falls back to the knowledge base at its own deadline: leave it the time.
        budget = max(AI_ANSWER_TIMEOUT_S, getattr(provider, "deadline_s", 0.0) + 2.0)
        recent: list[Turn] = []
        if message is not None and getattr(provider, "reads_recent_turns", False):
            recent = await rt.db.run_read(service.recent_turns, message)
        context = AnswerContext(account_id=account_id, recent_turns=recent)
        answer = await asyncio.wait_for(provider.answer(question, context), budget)
    except Exception as exc:  # the AI is a guest: any failure of it becomes the not-sure reply
        metrics.ai_answer("failed", time.perf_counter() - started)
        log.error("reception.ai_failed", account_id=account_id, error=f"{type(exc).__name__}: {exc}")
        return None
    metrics.ai_answer("answered" if answer is not None else "no_answer", time.perf_counter() - started)
    return answer


# --- the process job --------------------------------------------------------------------------


_Read = tuple["Inbound | ServicerStatus | None", KfAccount | None, str | None, Message]


def _read_message(session: Session, message_id: int, now: datetime) -> _Read | None:
    """The stored message as decide() input, and the question to ask the AI first (one read,
    one round trip); None: already processed."""
    message = session.get(Message, message_id)
    if message is None or message.processed_at is not None:
        return None
    inbound = None if message.bootstrap else inbound_of(message)
    account = session.get(KfAccount, message.account_id)
    question = None
    if isinstance(inbound, CustomerText | CustomerNonText) and account and message.external_userid:
        conversation = session.scalar(service.conversation_query(account.id, message.external_userid))
        conversation_id = conversation.id if conversation is not None else None
        backlog = service.customer_backlog(session, message, conversation_id)
        inbound = inbound.model_copy(update={"backlog": backlog})
    if isinstance(inbound, CustomerText) and account is not None and message.external_userid:
        settings = service.account_settings(session, account)
        if wants_ai_answer(service.state_of(conversation), inbound, settings, now):
            question = inbound.text
    return inbound, account, question, message


async def process_message(rt: Runtime, message_id: int) -> None:
    """Act on one stored message, exactly once (a redo finds it processed and stops).

    Bootstrap history only updates the conversation record; a servicer's reception status
    goes to their servicer row; everything else goes through decide().
    """
    read = await rt.db.run_read(_read_message, message_id, rt.clock.now())
    if read is None:
        return
    inbound, account, question, stored = read
    if question is not None and isinstance(inbound, CustomerText) and account is not None:
        answer = await ask_ai(rt, account.id, question, stored)
        inbound = inbound.model_copy(update={"ai_answer": answer})

    async with rt.db.write() as session:
        # Locked (PostgreSQL): a worker that took this job over after a lost lease waits here and
        # then finds it processed, instead of both reading processed_at empty.
        message = await session.get(Message, message_id, with_for_update=True)
        if message is None or message.processed_at is not None:
            return
        now = rt.clock.now()
        message.processed_at = now
        await finish_job(session, now)  # the job's last write: it completes with it
        conversation = await service.note_message(session, message, now=now)
        account = await session.get(KfAccount, message.account_id)
        if account is None or inbound is None:
            return
        if isinstance(inbound, ServicerStatus):
            from kefu.accounts.servicers import apply_servicer_status_event

            await apply_servicer_status_event(
                session, account.id, inbound.userid, inbound.status, inbound.stop_type or 0, now
            )
            # On duty: room for the pool; off duty: customers waiting for them fall back.
            await request_dispatch_for_corp(session, account, now=now)
            return
        if conversation is None:
            return  # an event without a customer that concerns no conversation
        await decide_and_apply(
            session,
            conversation=conversation,
            account=account,
            inbound=inbound,
            now=now,
            process=rt.settings,
            message=message,
        )


# --- deciding and persisting ------------------------------------------------------------------


async def decide_and_apply(
    session: AsyncSession,
    *,
    conversation: Conversation,
    account: KfAccount,
    inbound: Inbound,
    now: datetime,
    process: Settings,
    message: Message | None = None,
) -> Decision:
    """Run decide() on the conversation's stored mirror and persist everything it chose.
    `process`: the process settings (whether and where the webhook tells what happened)."""
    if session.get_bind().dialect.name == "postgresql":
        # A take through the API decides outside the conversation's job lock: the row lock makes
        # it and the conversation's jobs read each other's committed state, one after the other.
        await session.refresh(conversation, with_for_update=True)
    settings = await load_settings(session, account)
    state = service.state_of(conversation)
    await service.settle_orphaned_actions(session, conversation.id, now=now)
    try:
        # Most inbounds (an AI answer, a servicer's message) never route: the roster's five
        # queries are made only when decide asks for it.
        decision = decide(state, inbound, settings, None, now)
    except RosterNeeded:
        roster = await service.roster(session, account, settings, conversation)
        decision = decide(state, inbound, settings, roster, now)
    if session.get_bind().dialect.name == "postgresql" and _routed(decision):
        # Routing must be atomic against other processes: lock the people and the rotation,
        # count again, decide again.
        roster = await service.roster(session, account, settings, conversation, for_update=True)
        decision = decide(state, inbound, settings, roster, now)
    await apply_decision(
        session,
        conversation=conversation,
        account=account,
        settings=settings,
        decision=decision,
        before=state,
        now=now,
        message=message,
    )
    await emit_conversation_events(
        session, process, account=account, conversation=conversation, before=state, decision=decision, now=now
    )
    if decision.state.session_no != state.session_no:
        # A new session: learn who the customer is now, while WeCom still answers for them
        # (kf/customer/batchget knows only recently active customers); one waiting job each.
        await enqueue(
            session,
            FETCH_TASK,
            {"account_id": account.id, "external_userid": conversation.external_userid},
            now=now,
            queueing_lock=f"crm.fetch:{account.connection_id}:{conversation.external_userid}",
        )
    # A timer that found nothing to do yet (e.g. opening reached while a transfer is on its way)
    # must not be woken again at once: look again a little later.
    not_before = now + TIMER_RETRY if isinstance(inbound, IdleCheck | OpeningReached) else now
    await schedule_tick(session, conversation, now=now, not_before=not_before)
    await session.run_sync(announce_change)  # open console pages re-read (kefu.console.events)
    return decision


def _servicer_freed(before: ConversationState, after: ConversationState) -> str | None:
    """The servicer whose human session this decision ended or moved away, if any."""
    if before.wecom_state != 3 or before.servicer_userid is None:
        return None
    if after.wecom_state == 3 and after.servicer_userid == before.servicer_userid:
        return None
    return before.servicer_userid


def _routed(decision: Decision) -> bool:
    return any(isinstance(a, RecordRouting) for a in decision.actions)


async def apply_decision(
    session: AsyncSession,
    *,
    conversation: Conversation,
    account: KfAccount,
    settings: AccountSettings,
    decision: Decision,
    before: ConversationState,
    now: datetime,
    message: Message | None = None,
) -> None:
    service.save_state(conversation, decision.state, settings, now=now)
    log.info(
        "reception.decided",
        conversation_id=conversation.id,
        account_id=account.id,
        wecom_state=decision.state.wecom_state,
        actions=[type(action).__name__ for action in decision.actions],
    )
    freed = _servicer_freed(before, decision.state)
    if freed is not None:
        await service.mark_idle_since(session, account, freed, now=now)
        await request_dispatch_for_corp(session, account, now=now)  # room for a waiting customer
    if decision.state.wecom_state == STATE_POOL and before.wecom_state != STATE_POOL:
        # Room may have freed while this customer's trans → 2 was on its way: the round asked for
        # then found nobody waiting. Without this they would wait for the sweep.
        await request_dispatch(session, account.id, now=now)
    for entry in decision.timeline:
        session.add(
            TimelineEntry(conversation_id=conversation.id, at=entry.at, kind=entry.kind, detail=entry.detail)
        )
    await record_sessions(
        session,
        conversation,
        session_before=before.session_no,
        session_after=decision.state.session_no,
        timeline=decision.timeline,
        message=message,
    )
    lock = conversation_lock(account.id, conversation.external_userid)
    for action in decision.actions:
        row = ConversationAction(
            conversation_id=conversation.id,
            kind=action.kind,
            # The message that led to it: lets a check (benchmarks/chaos.py) prove one decision
            # per message, and an operator trace a reply back to what the customer wrote.
            payload={"action": action.model_dump(mode="json"), "message_id": message.id if message else None},
            status="pending",
            created_at=now,
        )
        session.add(row)
        await session.flush()
        if isinstance(action, LOCAL_ACTIONS):
            await apply_local(session, conversation, action, message=message, now=now)
            row.status, row.finished_at = "done", now
            continue
        extra: dict[str, Any] = {}
        if isinstance(action, Transfer) and action.target_state == 4 and before.last_activity_at:
            # An idle end: the deliverer checks the customer stayed silent since (see delivery).
            extra["idle_since"] = before.last_activity_at.isoformat()
        deadline = action.deadline if isinstance(action, SendOnEvent) else None
        job_id = await enqueue(
            session, DELIVER_TASK, {"action_id": row.id}, now=now, lock=lock, deadline=deadline
        )
        # Set after the job's INSERT (which flushes): the msgid and payload go in one UPDATE.
        if action.kind in ("send", "send_on_event"):
            row.msgid = msgid_for(row.id, conversation.id)
        row.payload = service.action_payload(row, job_id=job_id, **extra)


async def schedule_tick(
    session: AsyncSession, conversation: Conversation, *, now: datetime, not_before: datetime
) -> None:
    """Wake the conversation at its next timer (idle timeout, reception opening).

    The tick job holds no conversation lock (a job waiting until later would block the
    conversation's lock until then); when due it enqueues a feed job under the lock.
    """
    times = [t for t in (conversation.next_idle_check_at, conversation.next_opening_check_at) if t]
    if not times:
        return
    due = max(min(times), not_before)
    await enqueue(
        session,
        TICK_TASK,
        {"conversation_id": conversation.id},
        now=now,
        run_at=due,
        queueing_lock=f"tick:{conversation.id}:{int(due.timestamp())}",
    )


async def enqueue_feed(
    session: AsyncSession,
    conversation: Conversation,
    account_id: int,
    inbound: Inbound,
    *,
    now: datetime,
    source_action_id: int | None = None,
) -> None:
    """Feed an outcome or timer into decide() again, as a job under the conversation's lock."""
    await session.run_sync(
        add_feed, conversation, account_id, inbound, now=now, source_action_id=source_action_id
    )


def add_feed(
    session: Session,
    conversation: Conversation,
    account_id: int,
    inbound: Inbound,
    *,
    now: datetime,
    source_action_id: int | None = None,
) -> None:
    """`enqueue_feed` for a synchronous unit of work (`db.run_write`)."""
    args: dict[str, Any] = {
        "conversation_id": conversation.id,
        "inbound": INBOUND_ADAPTER.dump_python(inbound, mode="json"),
        "source_action_id": source_action_id,
    }
    add_job(
        session, FEED_TASK, args, now=now, lock=conversation_lock(account_id, conversation.external_userid)
    )
