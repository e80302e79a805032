"""The process job (`ingest.process`): one pulled message through decide(), exactly once.

Three steps, the network never inside a transaction: read the message and what the AI would
be asked (one read unit), ask the AI only when `wants_ai_answer` says so, then mark the message
processed, decide and persist in ONE synchronous write unit (`db.run_write`: on SQLite one round
trip to the writer thread instead of aiosqlite's hops per statement).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from sqlalchemy.orm import Session

from kefu import metrics
from kefu.accounts.models import KfAccount
from kefu.ai.provider import Answer, AnswerContext, Turn
from kefu.clock import Clock
from kefu.ingest.models import Message
from kefu.jobs.current import finish_job_in
from kefu.logs import get_logger
from kefu.reception import service
from kefu.reception.core import CustomerNonText, CustomerText, Inbound, wants_ai_answer
from kefu.reception.inbound import ServicerStatus, inbound_of
from kefu.reception.pool import request_dispatch_for_corp
from kefu.reception.shell import decide_and_apply
from kefu.runtime import Runtime
from kefu.settings import Settings

log = get_logger(__name__)

AI_ANSWER_TIMEOUT_S = 10.0


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
    await rt.db.run_write(_apply_message, message_id, inbound, rt.clock, rt.settings)


def _apply_message(
    session: Session,
    message_id: int,
    inbound: Inbound | ServicerStatus | None,
    clock: Clock,
    process: Settings,
) -> None:
    """The write unit: mark the message processed and persist what it leads to."""
    # Locked (PostgreSQL): a worker that took this job over after a lost lease waits here and
    # then finds it processed, instead of both reading processed_at empty.
    message = session.get(Message, message_id, with_for_update=True)
    if message is None or message.processed_at is not None:
        return
    now = clock.now()  # read once the writer's lock is held, as the decision's moment
    message.processed_at = now
    finish_job_in(session, now)  # the job's last write: it completes with it
    conversation = service.note_message(session, message, now=now)
    account = session.get(KfAccount, message.account_id)
    if account is None or inbound is None:
        return
    if isinstance(inbound, ServicerStatus):
        from kefu.accounts.servicers import apply_servicer_status_event

        apply_servicer_status_event(
            session, account.id, inbound.userid, inbound.status, inbound.stop_type or 0, now
        )
        # On duty: room for the pool; off duty: customers waiting for them fall back.
        request_dispatch_for_corp(session, account, now=now)
        return
    if conversation is None:
        return  # an event without a customer that concerns no conversation
    decide_and_apply(
        session,
        conversation=conversation,
        account=account,
        inbound=inbound,
        now=now,
        process=process,
        message=message,
    )
