"""Jobs of the reception engine: process a stored message, deliver an action
(kefu.reception.delivery), feed an outcome or a timer back into decide(), and the timer tick that
wakes a conversation when it is due.

The process task keeps its name `ingest.process` (jobs already queued carry it): the sync job of
kefu.ingest queues it by name, and it runs here, where the engine is."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.clock import Clock
from kefu.ingest.service import PROCESS_TASK
from kefu.jobs.registry import task
from kefu.reception import delivery  # noqa: F401 — registers reception.deliver
from kefu.reception.core import INBOUND_ADAPTER, IdleCheck, Inbound, OpeningReached
from kefu.reception.models import Conversation, ConversationAction
from kefu.reception.processing import process_message
from kefu.reception.service import action_payload
from kefu.reception.shell import FEED_TASK, TICK_TASK, add_feed, decide_and_apply
from kefu.runtime import Runtime
from kefu.settings import Settings


@task(PROCESS_TASK, max_attempts=10)
async def process(rt: Runtime, *, message_id: int) -> None:
    """Act on one stored message, exactly once (a redo finds it processed and stops): the
    reception engine decides and queues its actions in the transaction that marks it processed."""
    await process_message(rt, message_id)


@task(FEED_TASK, max_attempts=10)
async def feed(
    rt: Runtime, *, conversation_id: int, inbound: dict[str, Any], source_action_id: int | None = None
) -> None:
    """decide() on an outcome of Kefu's own action (or a timer), under the conversation's lock.

    An outcome is fed once: its source action is marked in the same transaction, so a redo
    of this job after a crash finds it fed and stops.
    """
    parsed = INBOUND_ADAPTER.validate_python(inbound)
    await rt.db.run_write(_feed, conversation_id, parsed, source_action_id, rt.clock, rt.settings)


def _feed(
    session: Session,
    conversation_id: int,
    inbound: Inbound,
    source_action_id: int | None,
    clock: Clock,
    process: Settings,
) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    if source_action_id is not None:
        source = session.get(ConversationAction, source_action_id)
        if source is not None:
            if (source.payload or {}).get("fed"):
                return
            source.payload = action_payload(source, fed=True)
    account = session.get(KfAccount, conversation.account_id)
    if account is None:
        return
    decide_and_apply(
        session, conversation=conversation, account=account, inbound=inbound, now=clock.now(), process=process
    )


@task(TICK_TASK, max_attempts=10)
async def tick(rt: Runtime, *, conversation_id: int) -> None:
    """A conversation's timer came due: feed IdleCheck / OpeningReached under its lock.

    A tick whose time moved on (the customer wrote, the session changed) finds nothing due.
    """
    await rt.db.run_write(_tick, conversation_id, rt.clock)


def _tick(session: Session, conversation_id: int, clock: Clock) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    now = clock.now()
    due: list[Inbound] = []
    if conversation.next_idle_check_at is not None and conversation.next_idle_check_at <= now:
        due.append(IdleCheck())
    if conversation.next_opening_check_at is not None and conversation.next_opening_check_at <= now:
        due.append(OpeningReached())
    for inbound in due:
        add_feed(session, conversation, conversation.account_id, inbound, now=now)
