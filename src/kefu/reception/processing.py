"""The process job (`ingest.process`): one pulled message through decide(), exactly once.

One synchronous write unit (`db.run_write`: on SQLite one round trip to the writer thread)
reads the message, answers with the built-in AI when it is ready to answer there (built in this
process for the current entries), marks the message processed, decides and persists. When an AI answer
must be awaited instead (an LLM, a knowledge base not yet built in this process), three steps,
the network never inside a transaction: read the message and what the AI would be asked (one
read unit), ask the AI, then the write unit.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kefu import metrics
from kefu.accounts.models import GlobalSetting, KfAccount
from kefu.accounts.settings import AI_KEY
from kefu.accounts.sync import request_dispatch_for_connection
from kefu.ai.provider import Answer, AnswerContext, Turn
from kefu.clock import Clock
from kefu.db import Database, write_row
from kefu.ingest.models import Message
from kefu.jobs.current import finish_job_in
from kefu.logs import get_logger
from kefu.reception import history, service
from kefu.reception.core import CustomerNonText, CustomerText, Inbound, wants_ai_answer
from kefu.reception.inbound import ServicerStatus, inbound_of
from kefu.reception.models import Conversation
from kefu.reception.pool import ACCOUNTS_WITH_A_POOL
from kefu.reception.shell import decide_and_apply
from kefu.runtime import Runtime
from kefu.settings import Settings

if TYPE_CHECKING:
    from kefu.accounts.knowledge_provider import KnowledgeKey
    from kefu.ai.builtin import KnowledgeBaseProvider
    from kefu.reception.core.settings import AccountSettings

log = get_logger(__name__)

AI_ANSWER_TIMEOUT_S = 10.0


async def ask_ai(
    rt: Runtime,
    account_id: int,
    question: str,
    message: Message | None = None,
    knowledge_key: KnowledgeKey | None = None,
) -> Answer | None:
    """The AI's answer, or None when it fails or is too slow (decide then says it is not sure).
    A provider that reads the conversation (`reads_recent_turns`, the LLM) gets the turns before
    `message`; the built-in knowledge base does not, so they are not read for it.
    `knowledge_key`: the knowledge base's freshness key, when the caller read it already."""
    from kefu.accounts.knowledge_provider import ai_for_account

    started = time.perf_counter()
    try:
        provider = await asyncio.wait_for(ai_for_account(rt, account_id, knowledge_key), AI_ANSWER_TIMEOUT_S)
        # An LLM provider falls back to the knowledge base at its own deadline: leave it the time.
        budget = max(AI_ANSWER_TIMEOUT_S, getattr(provider, "deadline_s", 0.0) + 2.0)
        recent: list[Turn] = []
        if message is not None and getattr(provider, "reads_recent_turns", False):
            recent = await rt.db.run_read(history.recent_turns, message)
        context = AnswerContext(account_id=account_id, recent_turns=recent)
        answer = await asyncio.wait_for(provider.answer(question, context), budget)
    except Exception as exc:  # the AI is a guest: any failure of it becomes the not-sure reply
        _ai_failed(account_id, exc, started)
        return None
    return _ai_answered(answer, started)


def _ai_failed(account_id: int, exc: Exception, started: float) -> None:
    metrics.ai_answer("failed", time.perf_counter() - started)
    log.error("reception.ai_failed", account_id=account_id, error=f"{type(exc).__name__}: {exc}")


def _ai_answered(answer: Answer | None, started: float) -> Answer | None:
    metrics.ai_answer("answered" if answer is not None else "no_answer", time.perf_counter() - started)
    return answer


class _Rows(NamedTuple):
    message: Message
    account: KfAccount | None
    conversation: Conversation | None
    ai: GlobalSetting | None


# Built once: the job runs it twice per message, and building the statement (SQLAlchemy's
# coercions and cache key) cost more than running it.
_MESSAGE_ROWS = (
    select(Message, KfAccount, Conversation, GlobalSetting)
    .outerjoin(KfAccount, KfAccount.id == Message.account_id)
    .outerjoin(
        Conversation,
        (Conversation.account_id == Message.account_id)
        & (Conversation.external_userid == Message.external_userid),
    )
    .outerjoin(GlobalSetting, GlobalSetting.key == AI_KEY)
    .where(Message.id == bindparam("message_id"))
)
_MESSAGE_ROWS_LOCKED = _MESSAGE_ROWS.with_for_update(of=Message)


def _message_rows(session: Session, message_id: int, *, lock: bool = False) -> _Rows | None:
    """The message, its account, its conversation (None: not yet) and the `ai:` section: ONE
    statement for what each unit of the job reads first. `lock` (PostgreSQL): the message row."""
    query = _MESSAGE_ROWS_LOCKED if lock else _MESSAGE_ROWS
    row = session.execute(query, {"message_id": message_id}).first()
    return None if row is None else _Rows(*row)


@dataclass(frozen=True)
class _Read:
    """What the read unit found: decide()'s input and, when the AI is asked first, the question
    and the knowledge base's freshness key (read in the same unit)."""

    inbound: Inbound | ServicerStatus | None
    account: KfAccount | None
    message: Message
    question: str | None = None
    knowledge_key: KnowledgeKey | None = None
    settings: AccountSettings | None = None  # parsed once per unit: _apply_rows reuses them


def _read_message(session: Session, message_id: int, now: datetime) -> _Read | None:
    """The stored message as decide() input, and the question to ask the AI first (one read,
    one round trip); None: already processed."""
    rows = _message_rows(session, message_id)
    if rows is None or rows.message.processed_at is not None:
        return None
    return _read_rows(session, rows, now)


def _read_rows(session: Session, rows: _Rows, now: datetime) -> _Read:
    from kefu.accounts.knowledge_provider import knowledge_key

    message, account = rows.message, rows.account
    inbound = None if message.bootstrap else inbound_of(message)
    if (
        not isinstance(inbound, CustomerText | CustomerNonText)
        or account is None
        or not message.external_userid
    ):
        return _Read(inbound, account, message)
    conversation_id = rows.conversation.id if rows.conversation is not None else None
    backlog = history.customer_backlog(session, message, conversation_id)
    inbound = inbound.model_copy(update={"backlog": backlog})
    settings = service.settings_of(account, rows.ai)
    if not isinstance(inbound, CustomerText) or not wants_ai_answer(
        service.state_of(rows.conversation), inbound, settings, now
    ):
        return _Read(inbound, account, message, settings=settings)
    return _Read(inbound, account, message, inbound.text, knowledge_key(session, account.id), settings)


async def process_message(rt: Runtime, message_id: int) -> None:
    """Act on one stored message, exactly once (a redo finds it processed and stops).

    Bootstrap history only updates the conversation record; a servicer's reception status
    goes to their servicer row; everything else goes through decide(). Decided in ONE write unit
    unless an AI answer must be awaited (an LLM, or a knowledge base this process has not built
    yet): then read, ask outside any transaction, and write.
    """
    if await rt.db.run_write(_decide_at_once, message_id, rt.db, rt.clock, rt.settings):
        return
    read = await rt.db.run_read(_read_message, message_id, rt.clock.now())
    if read is None:
        return
    inbound = read.inbound
    if read.question is not None and isinstance(inbound, CustomerText) and read.account is not None:
        answer = await ask_ai(rt, read.account.id, read.question, read.message, read.knowledge_key)
        inbound = inbound.model_copy(update={"ai_answer": answer})
    await rt.db.run_write(_apply_message, message_id, inbound, rt.clock, rt.settings)


def _decide_at_once(session: Session, message_id: int, db: Database, clock: Clock, process: Settings) -> bool:
    """The whole job in one write unit: read, answer with the built-in AI when it is ready to answer
    here (`answering_at_once`), decide and persist. False: it is not, and nothing was written."""
    from kefu.accounts.knowledge_provider import answering_at_once

    # Locked (PostgreSQL): a worker that took this job over after a lost lease waits here and
    # then finds it processed, instead of both reading processed_at empty.
    rows = _message_rows(session, message_id, lock=True)
    if rows is None or rows.message.processed_at is not None:
        return True
    now = clock.now()  # read once the writer's lock is held, as the decision's moment
    read = _read_rows(session, rows, now)
    inbound = read.inbound
    if read.question is not None and isinstance(inbound, CustomerText) and read.account is not None:
        assert read.knowledge_key is not None
        provider = answering_at_once(db, read.account.id, read.knowledge_key)
        if provider is None:
            return False
        answer = _answer_now(provider, read.account.id, read.question)
        inbound = inbound.model_copy(update={"ai_answer": answer})
    _apply_rows(session, rows, inbound, now, process, read.settings)
    return True


def _answer_now(provider: KnowledgeBaseProvider, account_id: int, question: str) -> Answer | None:
    """`ask_ai` for the built-in AI inside a unit: the same metrics, and a failure is not-sure."""
    started = time.perf_counter()
    try:
        answer = provider.answer_now(question)
    except Exception as exc:  # the AI is a guest: any failure of it becomes the not-sure reply
        _ai_failed(account_id, exc, started)
        return None
    return _ai_answered(answer, started)


def _apply_message(
    session: Session,
    message_id: int,
    inbound: Inbound | ServicerStatus | None,
    clock: Clock,
    process: Settings,
) -> None:
    """The write unit after an awaited AI answer: mark the message processed and persist what it
    leads to."""
    rows = _message_rows(session, message_id, lock=True)  # locked: see _decide_at_once
    if rows is None or rows.message.processed_at is not None:
        return
    _apply_rows(session, rows, inbound, clock.now(), process)


def _apply_rows(
    session: Session,
    rows: _Rows,
    inbound: Inbound | ServicerStatus | None,
    now: datetime,
    process: Settings,
    settings: AccountSettings | None = None,
) -> None:
    message, account, conversation = rows.message, rows.account, rows.conversation
    write_row(session, message, processed_at=now)  # no unit of work for the message's row
    finish_job_in(session, now)  # the job's last write: it completes with it
    if conversation is None and message.external_userid:
        conversation = service.add_conversation(session, message.account_id, message.external_userid, now=now)
    if (
        account is not None
        and conversation is not None
        and inbound is not None
        and not isinstance(inbound, ServicerStatus)
    ):
        # decide_and_apply notes the message with the state it leads to: one UPDATE of the row.
        decide_and_apply(
            session,
            conversation=conversation,
            account=account,
            inbound=inbound,
            now=now,
            process=process,
            message=message,
            settings=settings or service.settings_of(account, rows.ai),
        )
        return
    if conversation is not None:
        service.note_message(session, conversation, message, now=now)
    if account is None or not isinstance(inbound, ServicerStatus):
        return  # bootstrap history, or an event without a customer that concerns no conversation
    from kefu.accounts.servicers import apply_servicer_status_event

    apply_servicer_status_event(
        session, account.id, inbound.userid, inbound.status, inbound.stop_type or 0, now
    )
    # On duty: room for the pool; off duty: customers waiting for them fall back.
    request_dispatch_for_connection(session, account.connection_id, now=now, among=ACCOUNTS_WITH_A_POOL)
