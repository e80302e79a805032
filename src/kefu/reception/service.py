"""Conversation records: the stored mirror (state JSON + copied columns), servicer loads and the
outbox's settled status (reading them for people, the transcript: kefu.reception.history).
Services take a session and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.accounts.models import GlobalSetting, KfAccount, Servicer
from kefu.accounts.settings import AI_KEY, ai_from_stored, get_account, stored_settings
from kefu.api.models import ConsoleUser
from kefu.api.users import BOUND_USERS, names_people_know
from kefu.crm.identity import exclusive_servicer
from kefu.db import table_of, write_row
from kefu.ingest.models import Message
from kefu.ingest.service import conversation_lock
from kefu.jobs.models import Job
from kefu.jobs.wakeup import announce_change
from kefu.reception.core import (
    AccountSettings,
    ConversationState,
    Roster,
    SendOnEvent,
    ServicerLoad,
    next_idle_check,
    next_opening_check,
)
from kefu.reception.models import Conversation, ConversationAction
from kefu.routing import service as routing_service

CUSTOMER = 3
DELIVER_TASK = "reception.deliver"  # one job per outbox row that calls WeCom (kefu.reception.delivery)
STATE_POOL, STATE_HUMAN = 2, 3
# Servicer.status uses servicer/list's encoding: 0 = 接待中.
RECEIVING = 0


def add_conversation(
    session: Session, account_id: int, external_userid: str, *, now: datetime
) -> Conversation:
    """A customer's first conversation record (the caller read that there was none)."""
    conversation = Conversation(
        account_id=account_id, external_userid=external_userid, created_at=now, updated_at=now
    )
    session.add(conversation)
    session.flush()
    return conversation


def note_message(session: Session, conversation: Conversation, message: Message, *, now: datetime) -> None:
    """Keep the conversation record current: its last message times (a decided message is noted
    with its new state instead, by `save_state`: one UPDATE for both)."""
    write_row(session, conversation, **_message_times(conversation, message, now))
    announce_change(session)  # the transcript has a new line


def _message_times(conversation: Conversation, message: Message, now: datetime) -> dict[str, Any]:
    times: dict[str, Any] = {"updated_at": now}
    if conversation.last_message_at is None or message.send_time > conversation.last_message_at:
        times["last_message_at"] = message.send_time
    if message.origin == CUSTOMER and (
        conversation.last_customer_message_at is None
        or message.send_time > conversation.last_customer_message_at
    ):
        times["last_customer_message_at"] = message.send_time
    return times


# --- the stored mirror ------------------------------------------------------------------------


def state_of(conversation: Conversation | None) -> ConversationState:
    """The conversation's mirror; a conversation never decided on starts as WeCom's state 4."""
    if conversation is None or not conversation.state:
        return ConversationState.model_validate({})
    return ConversationState.model_validate(conversation.state)


def save_state(
    session: Session,
    conversation: Conversation,
    state: ConversationState,
    settings: AccountSettings,
    *,
    now: datetime,
    noted: Message | None = None,
) -> None:
    """Store the mirror and copy what queries need into columns (console lists, loads, timers);
    with `noted`, that message's times too (`note_message`): one UPDATE of the row.

    `servicer_userid` names whoever serves the session or is being handed it (a pending
    trans → 3), so a servicer's load counts a transfer on its way and routing never
    over-assigns while WeCom has not answered yet.
    """
    pending = state.pending_transition
    if state.wecom_state == STATE_HUMAN:
        servicer_userid = state.servicer_userid
    elif pending is not None and pending.target_state == STATE_HUMAN:
        servicer_userid = pending.servicer_userid
    else:
        servicer_userid = None
    # Likewise `queued_at`: in the pool, or on the way into it (a pending trans → 2), so the
    # queue's cap counts a customer whose trans has not landed yet.
    queued_at = state.queued_at
    if queued_at is None and pending is not None and pending.target_state == STATE_POOL:
        queued_at = pending.at
    values = {
        "state": state.model_dump(mode="json"),
        "wecom_state": state.wecom_state,
        "owner": state.owner,
        "servicer_userid": servicer_userid,
        "session_no": state.session_no,
        "queued_at": queued_at,
        "reserved_for": state.reserved_for,
        "awaiting_reply_since": state.awaiting_reply_since,
        "next_idle_check_at": next_idle_check(state, settings),
        "next_opening_check_at": next_opening_check(state, settings, now),
        "updated_at": now,
    }
    if noted is not None:
        values |= _message_times(conversation, noted, now)
        announce_change(session)  # the transcript has a new line
    write_row(session, conversation, **values)  # one UPDATE now: a flush of it cost more


# --- settings ---------------------------------------------------------------------------------


async def load_account_settings(session: AsyncSession, account: KfAccount | int) -> AccountSettings:
    """What the reception core needs about an account: its stored settings, `enabled`, and the
    AI's "not sure" text, as `AccountSettings`."""
    row = account if isinstance(account, KfAccount) else await get_account(session, account)
    return await session.run_sync(account_settings, row)


def account_settings(session: Session, account: KfAccount) -> AccountSettings:
    """`load_account_settings` for a synchronous unit of work. The `ai:` section is read on every
    call (so a change saved by any process is seen at once); see `settings_of`."""
    return settings_of(account, session.get(GlobalSetting, AI_KEY))


def settings_of(account: KfAccount, ai_row: GlobalSetting | None) -> AccountSettings:
    """The settings of an account row and the `ai:` row its unit of work read (a unit that read
    both already, e.g. joined to its message, asks nothing more). Only their parsing, which costs
    more than the reads, is reused while the stored values are the same."""
    ai_data = ai_row.data if ai_row else None
    key = (account.enabled, _key_text(account.settings), _key_text(ai_data))
    settings = _parsed_settings.get(key)
    if settings is None:
        settings = AccountSettings.from_config(
            stored_settings(account), ai_from_stored(ai_data), enabled=account.enabled
        )
        _parsed_settings[key] = settings
        while len(_parsed_settings) > PARSED_SETTINGS_KEPT:
            _parsed_settings.pop(next(iter(_parsed_settings)))
    return settings


def _key_text(value: Any) -> bytes:
    """Stored settings as a cache key: the same values give the same bytes whatever their order."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


PARSED_SETTINGS_KEPT = 256  # accounts × versions; each entry is one frozen AccountSettings
_parsed_settings: dict[tuple[bool, bytes, bytes], AccountSettings] = {}


# --- servicers --------------------------------------------------------------------------------


def roster(
    session: Session,
    account: KfAccount,
    settings: AccountSettings,
    conversation: Conversation,
    *,
    for_update: bool = False,
) -> Roster:
    """What routing reads: the account's servicers in its order, each with their human sessions
    counted across every account of the same corp (a person's cap is per person), caps
    resolved; the customer's exclusive servicer (the CRM: their contact's, else its company's);
    the round-robin pointer.

    `for_update` (PostgreSQL): lock the servicer rows and the pointer first, so two routing
    decisions for the same people serialise and the second one counts the first one's assignment
    (or its customer on the way into the pool)."""
    rows_query = (
        select(Servicer).where(Servicer.account_id == account.id).order_by(Servicer.position, Servicer.id)
    )
    # One WeCom does not list for the account (removed in the WeCom admin, or never taken) is
    # no servicer of it: routing never waits for them, as for one not in Kefu's list.
    rows = [row for row in session.scalars(rows_query).all() if row.in_wecom]
    userids = [row.userid for row in rows]
    exclusive = exclusive_servicer(session, account.connection_id, conversation.external_userid)
    pointer = routing_service.round_robin_last(session, account.id, for_update=for_update)
    corp_accounts = select(KfAccount.id).where(KfAccount.connection_id == account.connection_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        # Before the pool is counted too: two customers queued at once see each other (the cap).
        # With no servicer to lock (they take customers from the pool in the WeCom app), the
        # account row is: FOR NO KEY UPDATE, as a pull's update of its sync token takes it.
        held = (
            select(Servicer.id)
            .where(Servicer.account_id.in_(corp_accounts), Servicer.userid.in_(userids))
            .order_by(Servicer.id)
            if userids
            else select(KfAccount.id).where(KfAccount.id == account.id)
        )
        session.execute(held.with_for_update(key_share=True))
    waiting, reserved = session.execute(
        select(func.count(), func.count(Conversation.reserved_for))
        .select_from(Conversation)
        .where(
            # In the pool, or on the way into it (queued_at set with the pending trans → 2).
            Conversation.wecom_state.in_((0, 1, STATE_POOL)),
            Conversation.account_id == account.id,
            Conversation.queued_at.is_not(None),
            Conversation.id != conversation.id,
        )
    ).one()
    empty = Roster(
        exclusive_userid=exclusive,
        round_robin_last=pointer,
        pool_length=int(waiting or 0),
        waiting_for_anyone=int(waiting or 0) - int(reserved or 0),
    )
    if not userids:
        return empty
    counted = session.execute(
        select(Conversation.servicer_userid, func.count())
        .where(
            Conversation.account_id.in_(corp_accounts),
            Conversation.servicer_userid.in_(userids),
        )
        .group_by(Conversation.servicer_userid)
    )
    active = {userid: int(n) for userid, n in counted.all()}
    default_cap = settings.queue.default_max_sessions
    loads = tuple(
        ServicerLoad(
            userid=row.userid,
            on_duty=row.status == RECEIVING,
            active_sessions=active.get(row.userid, 0),
            max_sessions=row.max_sessions or default_cap,
            idle_since=row.idle_since,
            name=row.name,  # the kept explanation (API, CLI) names them as the admin did
        )
        for row in rows
    )
    return empty.model_copy(update={"servicers": loads})


def mark_idle_since(session: Session, account: KfAccount, userid: str, *, now: datetime) -> None:
    """A servicer's human session ended: they are idle since now, in every account of the corp."""
    corp_accounts = select(KfAccount.id).where(KfAccount.connection_id == account.connection_id)
    session.execute(
        update(Servicer)
        .where(Servicer.account_id.in_(corp_accounts), Servicer.userid == userid)
        .values(idle_since=now)
    )


def shell_facts(session: Session, conversation: Conversation, action: SendOnEvent) -> dict[str, str]:
    """The facts of a notice only the shell knows, read with its outbox row: the queue position
    of the pool notice, the name of the servicer in the taken notice."""
    if action.purpose == "pool_notice":
        return {"position": str(pool_position(session, conversation))}
    if action.purpose == "taken_notice":
        return {"servicer": servicer_name(session, conversation.account_id, conversation.servicer_userid)}
    return {}


def servicer_name(session: Session, account_id: int, userid: str | None) -> str:
    """What a customer may be told a servicer is called: the name the admin gave them on the
    account, else the display name of the console user bound to them (not a login name), else
    nothing — never the userid, which is often an employee or phone number."""
    if not userid:
        return ""
    given = session.scalar(
        select(Servicer.name).where(Servicer.account_id == account_id, Servicer.userid == userid)
    )
    if given:
        return given
    bound = session.execute(BOUND_USERS.where(ConsoleUser.wecom_userid == userid))
    return names_people_know(bound).get(userid, "")


def pool_position(session: Session, conversation: Conversation) -> int:
    """How many customers of the account wait in the pool besides this one (all came before it:
    the pool notice is sent as the customer enters). Synchronous: read with the outbox row."""
    count = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.account_id == conversation.account_id,
            Conversation.wecom_state == STATE_POOL,
            Conversation.id != conversation.id,
        )
    )
    return int(count or 0)


# --- the outbox -------------------------------------------------------------------------------


SEND_KINDS = ("send", "send_on_event")  # the actions that send a message, under a msgid of their own


def settled_statuses(
    session: Session, actions: Sequence[ConversationAction], conversations: Iterable[Conversation]
) -> dict[int, str]:
    """Each action's status, with a pending one whose delivery job ended without settling it read
    as the job ended: `dropped` (a 20-second code past its deadline) or `failed` (out of attempts).
    `conversations`: those of the actions."""
    pending = {action.id for action in actions if action.status == "pending"}
    ended = _ended_deliveries(session, pending, conversations) if pending else {}
    return {action.id: ended.get(action.id, action.status) for action in actions}


# Built once, on the tables (Core: `table_of`): every decision asks the first.
_ACTIONS, _JOBS = table_of(ConversationAction).c, table_of(Job).c
_PENDING_ACTION_IDS = select(_ACTIONS.id).where(
    _ACTIONS.conversation_id == bindparam("conversation_id"), _ACTIONS.status == "pending"
)
_ENDED_DELIVERIES = select(_JOBS.args, _JOBS.status).where(
    _JOBS.lock.in_(bindparam("locks", expanding=True)),
    # OR of equalities, not IN: an IN list is expanded again at every execution.
    (_JOBS.status == "dropped") | (_JOBS.status == "failed"),
    _JOBS.task == DELIVER_TASK,
)


def _ended_deliveries(
    session: Session, pending: set[int], conversations: Iterable[Conversation]
) -> dict[int, str]:
    """The pending actions whose deliver job ended (dropped or failed), by action id: one query
    for all of them, the ended deliver jobs of their conversations' job locks (an index seek per
    lock), matched by the `action_id` each job carries."""
    locks = list({conversation_lock(c.account_id, c.external_userid) for c in conversations})
    ended: dict[int, str] = {}
    for args, status in session.execute(_ENDED_DELIVERIES, {"locks": locks}).all():
        if (action_id := (args or {}).get("action_id")) in pending:
            ended[action_id] = status
    return ended


def settle_orphaned_actions(session: Session, conversation: Conversation, *, now: datetime) -> None:
    """Record the end of actions whose delivery job ended without recording it (dropped, failed)."""
    pending = set(session.scalars(_PENDING_ACTION_IDS, {"conversation_id": conversation.id}).all())
    if not pending:
        return
    for action_id, status in _ended_deliveries(session, pending, [conversation]).items():
        action = session.get(ConversationAction, action_id)
        if action is not None:
            action.status, action.finished_at = status, now
            action.error = action.error or f"the delivery job was {status}"


def action_payload(action: ConversationAction, **changes: Any) -> dict[str, Any]:
    """A copy of the payload with `changes` (JSON columns are saved when reassigned)."""
    return {**(action.payload or {}), **changes}
