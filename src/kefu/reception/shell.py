"""The reception engine's imperative shell: decide() on a conversation's stored mirror, and its
outcome persisted — state, outbox, jobs, timers — in the caller's write transaction.

    decide_and_apply(session, …)   load inputs, decide, persist state + outbox + jobs + timers
    add_feed(session, …)           feed an outcome or timer into decide() again, as a job

Synchronous, on a plain `Session`: the process job (kefu.reception.processing), the feed and
tick jobs and a person's take run it as one `db.run_write` unit (on SQLite one round trip to
the writer thread); async code with an AsyncSession uses `session.run_sync`. Every network
action becomes a `conversation_actions` row and a `reception.deliver` job in that same
transaction; actions that only touch our own records (a rating, a recall, a send failure)
are applied right there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import insert
from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.accounts.sync import request_dispatch, request_dispatch_for_connection
from kefu.crm.tasks import FETCH_TASK
from kefu.db import table_of
from kefu.ingest.models import Message
from kefu.ingest.service import conversation_lock
from kefu.jobs.queue import add_job
from kefu.jobs.wakeup import announce_change
from kefu.logs import get_logger
from kefu.reception import service
from kefu.reception.core import (
    INBOUND_ADAPTER,
    AccountSettings,
    Action,
    ConversationState,
    Decision,
    IdleCheck,
    Inbound,
    OpeningReached,
    RecordRouting,
    RosterNeeded,
    SendOnEvent,
    Transfer,
    decide,
)
from kefu.reception.events import emit_conversation_events
from kefu.reception.local_actions import LOCAL_ACTIONS, apply_local
from kefu.reception.models import Conversation, ConversationAction, TimelineEntry
from kefu.reception.pool import ACCOUNTS_WITH_A_POOL, STATE_POOL
from kefu.reception.session_log import record_sessions
from kefu.settings import Settings

log = get_logger(__name__)

DELIVER_TASK = service.DELIVER_TASK
FEED_TASK = "reception.feed"
TICK_TASK = "reception.tick"
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
TIMER_RETRY = timedelta(minutes=1)
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


# --- deciding and persisting ------------------------------------------------------------------


def decide_and_apply(
    session: Session,
    *,
    conversation: Conversation,
    account: KfAccount,
    inbound: Inbound,
    now: datetime,
    process: Settings,
    message: Message | None = None,
    settings: AccountSettings | None = None,
) -> Decision:
    """Run decide() on the conversation's stored mirror and persist everything it chose.
    `process`: the process settings (whether and where the webhook tells what happened).
    `message`: the pulled message decided on; its times are noted on the conversation with the
    new state. `settings`: the account's, when the caller's unit read them already."""
    if session.get_bind().dialect.name == "postgresql":
        # A take through the API decides outside the conversation's job lock: the row lock makes
        # it and the conversation's jobs read each other's committed state, one after the other.
        session.refresh(conversation, with_for_update=True)
    if settings is None:
        settings = service.account_settings(session, account)
    state = service.state_of(conversation)
    service.settle_orphaned_actions(session, conversation, now=now)
    try:
        # Most inbounds (an AI answer, a servicer's message) never route: the roster's five
        # queries are made only when decide asks for it.
        decision = decide(state, inbound, settings, None, now)
    except RosterNeeded:
        roster = service.roster(session, account, settings, conversation)
        decision = decide(state, inbound, settings, roster, now)
    if session.get_bind().dialect.name == "postgresql" and _routed(decision):
        # Routing must be atomic against other processes: lock the people and the rotation,
        # count again, decide again.
        roster = service.roster(session, account, settings, conversation, for_update=True)
        decision = decide(state, inbound, settings, roster, now)
    apply_decision(
        session,
        conversation=conversation,
        account=account,
        settings=settings,
        decision=decision,
        before=state,
        now=now,
        message=message,
    )
    emit_conversation_events(
        session, process, account=account, conversation=conversation, before=state, decision=decision, now=now
    )
    if decision.state.session_no != state.session_no:
        # A new session: learn who the customer is now, while WeCom still answers for them
        # (kf/customer/batchget knows only recently active customers); one waiting job each.
        add_job(
            session,
            FETCH_TASK,
            {"account_id": account.id, "external_userid": conversation.external_userid},
            now=now,
            queueing_lock=f"crm.fetch:{account.connection_id}:{conversation.external_userid}",
        )
    # A timer that found nothing to do yet (e.g. opening reached while a transfer is on its way)
    # must not be woken again at once: look again a little later.
    not_before = now + TIMER_RETRY if isinstance(inbound, IdleCheck | OpeningReached) else now
    schedule_tick(session, conversation, now=now, not_before=not_before)
    announce_change(session)  # open console pages re-read (kefu.console.events)
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


# On the tables (Core: `table_of`), built once: every decision writes them.
_ADD_TIMELINE = insert(table_of(TimelineEntry))
_ADD_ACTION = insert(table_of(ConversationAction)).returning(table_of(ConversationAction).c.id)


def apply_decision(
    session: Session,
    *,
    conversation: Conversation,
    account: KfAccount,
    settings: AccountSettings,
    decision: Decision,
    before: ConversationState,
    now: datetime,
    message: Message | None = None,
) -> None:
    service.save_state(session, conversation, decision.state, settings, now=now, noted=message)
    log.info(
        "reception.decided",
        conversation_id=conversation.id,
        account_id=account.id,
        wecom_state=decision.state.wecom_state,
        actions=[type(action).__name__ for action in decision.actions],
    )
    freed = _servicer_freed(before, decision.state)
    if freed is not None:
        service.mark_idle_since(session, account, freed, now=now)
        # Room for a customer waiting in any of the corp's accounts.
        request_dispatch_for_connection(session, account.connection_id, now=now, among=ACCOUNTS_WITH_A_POOL)
    if decision.state.wecom_state == STATE_POOL and before.wecom_state != STATE_POOL:
        # Room may have freed while this customer's trans → 2 was on its way: the round asked for
        # then found nobody waiting. Without this they would wait for the sweep.
        request_dispatch(session, account.id, now=now)
    if decision.timeline:
        session.execute(
            _ADD_TIMELINE,
            [
                {"conversation_id": conversation.id, "at": e.at, "kind": e.kind, "detail": e.detail}
                for e in decision.timeline
            ],
        )
    record_sessions(
        session,
        conversation,
        session_before=before.session_no,
        session_after=decision.state.session_no,
        timeline=decision.timeline,
        message=message,
        servicer_before=before.servicer_userid if before.wecom_state == service.STATE_HUMAN else None,
        became_normal=before.session_kind == "rating_only"
        and decision.state.session_kind == "normal"
        and before.session_no == decision.state.session_no,
    )
    lock = conversation_lock(account.id, conversation.external_userid)
    for action in decision.actions:
        # The message that led to it: lets a check (benchmarks/chaos.py) prove one decision
        # per message, and an operator trace a reply back to what the customer wrote.
        payload: dict[str, Any] = {
            "action": action.model_dump(mode="json"),
            "message_id": message.id if message else None,
        }
        if isinstance(action, Transfer) and action.target_state == 4 and before.last_activity_at:
            # An idle end: the deliverer checks the customer stayed silent since (see delivery).
            payload["idle_since"] = before.last_activity_at.isoformat()
        if isinstance(action, Transfer) and decision.state.wecom_state in (STATE_POOL, service.STATE_HUMAN):
            # Servicers act in the WeCom app meanwhile (a take from the pool, a transfer, an end
            # and the customer's next session), and WeCom allows 3 → 3 and → 4: a trans on a
            # session that changed would move the customer away from whoever has them now, or end
            # the wrong session. The deliverer looks first: WeCom must still show what Kefu saw.
            seen = decision.state
            payload["seen"] = {"state": seen.wecom_state, "servicer": seen.servicer_userid}
        local = isinstance(action, LOCAL_ACTIONS)
        # Written once: its id names its delivery job here, and its msgid with the first try.
        action_id = session.execute(
            _ADD_ACTION,
            {
                "conversation_id": conversation.id,
                "kind": action.kind,
                "payload": payload,
                "status": "done" if local else "pending",
                "created_at": now,
                "finished_at": now if local else None,
            },
        ).scalar_one()
        if isinstance(action, LOCAL_ACTIONS):
            apply_local(session, conversation, action, message=message, now=now)
            continue
        deadline = action.deadline if isinstance(action, SendOnEvent) else None
        add_job(session, DELIVER_TASK, {"action_id": action_id}, now=now, lock=lock, deadline=deadline)


def schedule_tick(
    session: Session, conversation: Conversation, *, now: datetime, not_before: datetime
) -> None:
    """Wake the conversation at its next timer (idle timeout, reception opening).

    The tick job holds no conversation lock (a job waiting until later would block the
    conversation's lock until then); when due it enqueues a feed job under the lock.
    """
    times = [t for t in (conversation.next_idle_check_at, conversation.next_opening_check_at) if t]
    if not times:
        return
    due = max(min(times), not_before)
    add_job(
        session,
        TICK_TASK,
        {"conversation_id": conversation.id},
        now=now,
        run_at=due,
        queueing_lock=f"tick:{conversation.id}:{int(due.timestamp())}",
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
    """Feed an outcome or timer into decide() again, as a job under the conversation's lock."""
    args: dict[str, Any] = {
        "conversation_id": conversation.id,
        "inbound": INBOUND_ADAPTER.dump_python(inbound, mode="json"),
        "source_action_id": source_action_id,
    }
    add_job(
        session, FEED_TASK, args, now=now, lock=conversation_lock(account_id, conversation.external_userid)
    )
