"""decide(): the reception rules as one pure function. No I/O, no clock, no randomness.

    decision = decide(state, inbound, settings, servicers, now)

The shell loads the conversation's state, calls decide, stores `decision.state`
and the timeline, and turns each action into a delivery job (in order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from kefu.reception.core.actions import Decision
from kefu.reception.core.customer import customer_wrote, on_customer_message, plan, rating_in
from kefu.reception.core.events import (
    on_check_state,
    on_dispatch,
    on_end_by_hand,
    on_enter_session,
    on_hand_over,
    on_idle_check,
    on_manual_take,
    on_opening_reached,
    on_recall,
    on_send_failed,
    on_servicer_message,
    on_status_change,
)
from kefu.reception.core.inbound import (
    CheckState,
    CustomerNonText,
    CustomerText,
    Dispatch,
    EndByHand,
    EnterSession,
    HandOver,
    IdleCheck,
    Inbound,
    ManualTake,
    OpeningReached,
    Recall,
    Reconciled,
    SendFailed,
    SendRefused,
    ServicerMessage,
    SessionStatusChange,
    TransferDone,
    TransferRefused,
)
from kefu.reception.core.mirror import Context
from kefu.reception.core.outcomes import on_reconciled, on_send_refused, on_transfer_done, on_transfer_refused
from kefu.reception.core.settings import AccountSettings
from kefu.reception.core.state import ConversationState
from kefu.routing.core import Roster, ServicerLoad

_HANDLERS: dict[type[Any], Callable[[Context, Any], None]] = {
    CustomerText: on_customer_message,
    CustomerNonText: on_customer_message,
    EnterSession: on_enter_session,
    ServicerMessage: on_servicer_message,
    SessionStatusChange: on_status_change,
    SendFailed: on_send_failed,
    Recall: on_recall,
    IdleCheck: on_idle_check,
    OpeningReached: on_opening_reached,
    Dispatch: on_dispatch,
    CheckState: on_check_state,
    ManualTake: on_manual_take,
    HandOver: on_hand_over,
    EndByHand: on_end_by_hand,
    TransferDone: on_transfer_done,
    TransferRefused: on_transfer_refused,
    SendRefused: on_send_refused,
    Reconciled: on_reconciled,
}


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("decide needs an aware `now` (UTC)")


def _context(
    state: ConversationState,
    inbound: Inbound,
    settings: AccountSettings,
    servicers: Roster | Sequence[ServicerLoad] | None,
    now: datetime,
) -> Context:
    _require_aware(now)
    roster = (
        servicers
        if servicers is None or isinstance(servicers, Roster)
        else Roster(servicers=tuple(servicers))
    )
    ctx = Context(state=state, settings=settings, loaded_roster=roster, now=now)
    # A pulled item belongs to the moment WeCom stamped it (a late one may predate the
    # session's 48 h end); everything else happens now.
    sent_at: datetime | None = getattr(inbound, "sent_at", None)
    ctx.expire(now if sent_at is None else min(sent_at, now))
    return ctx


def decide(
    state: ConversationState,
    inbound: Inbound,
    settings: AccountSettings,
    servicers: Roster | Sequence[ServicerLoad] | None,
    now: datetime,
) -> Decision:
    """The new state, the actions to deliver in order, and the timeline entries of one inbound.

    `servicers` None: the roster is not loaded; an inbound that needs it raises `RosterNeeded`
    (decide is pure, so the caller loads it and decides again)."""
    ctx = _context(state, inbound, settings, servicers, now)
    _HANDLERS[type(inbound)](ctx, inbound)
    ctx.expire(now)
    ctx.prune_codes()
    return Decision(state=ctx.state, actions=ctx.actions, timeline=ctx.timeline)


def wants_ai_answer(
    state: ConversationState, inbound: Inbound, settings: AccountSettings, now: datetime
) -> bool:
    """True exactly when decide(state, inbound, …) would send an AI answer to this message.

    The shell asks the AI (I/O, in the shell) only then, and passes the result as
    `inbound.ai_answer`; decide never calls the AI.
    """
    if not isinstance(inbound, CustomerText):
        return False
    ctx = _context(state, inbound, settings, (), now)
    rating = rating_in(ctx, inbound)
    customer_wrote(ctx, inbound, rating=rating is not None)
    return plan(ctx, inbound, rating) == "ai_answer"
