"""What a person does to a session through Kefu — take a waiting customer (手动接入), hand a
session to another servicer (转接), end it — for the REST API and the console alike.

Each runs decide() in the caller's request, like a conversation's job would; WeCom is called
only by the delivery jobs the decision enqueues (crash-safe). A refusal is a Conflict that says
why in words a person understands."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.accounts.models import KfAccount
from kefu.clock import Clock
from kefu.errors import Conflict, NotFound
from kefu.reception.core import EndByHand, EndedByHand, HandOver, ManualTake, Transfer
from kefu.reception.models import Conversation
from kefu.reception.shell import decide_and_apply
from kefu.runtime import Runtime
from kefu.settings import Settings

PersonsRequest = ManualTake | HandOver | EndByHand


async def take(rt: Runtime, conversation_id: int, servicer_userid: str, *, by: str) -> Conversation:
    """The servicer takes the waiting customer, even past their cap (they chose to). Of two takes
    at once exactly one wins; the other is refused naming who has the customer."""
    return await _decide_now(rt, conversation_id, ManualTake(servicer_userid=servicer_userid, by=by))


async def hand_over(rt: Runtime, conversation_id: int, servicer_userid: str, *, by: str) -> Conversation:
    """Hand the human session to another servicer (trans 3 → 3), receiving and under their cap."""
    return await _decide_now(rt, conversation_id, HandOver(servicer_userid=servicer_userid, by=by))


async def end(rt: Runtime, conversation_id: int, *, by: str, who: EndedByHand) -> Conversation:
    """End the human session, or the customer's wait in the pool (trans → 4; the account's
    ending message and rating follow as when a servicer ends it in the WeCom app). `who`: what
    the reports call the one who ended it."""
    return await _decide_now(rt, conversation_id, EndByHand(by=by, who=who))


async def _decide_now(rt: Runtime, conversation_id: int, inbound: PersonsRequest) -> Conversation:
    """decide() on a person's request, in this request's transaction (one write unit); the
    conversation when it led to the transfer asked for, else a Conflict (its state says why)."""
    return await rt.db.run_write(_decide, conversation_id, inbound, rt.clock, rt.settings)


def _decide(
    session: Session, conversation_id: int, inbound: PersonsRequest, clock: Clock, process: Settings
) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(
            f"no conversation with id {conversation_id}", "conversation_not_found", {"id": conversation_id}
        )
    account = session.get(KfAccount, conversation.account_id)
    if account is None:
        raise NotFound(
            f"no account with id {conversation.account_id}",
            "account_not_found",
            {"id": conversation.account_id},
        )
    decision = decide_and_apply(
        session, conversation=conversation, account=account, inbound=inbound, now=clock.now(), process=process
    )
    target = 4 if isinstance(inbound, EndByHand) else 3
    if not any(isinstance(a, Transfer) and a.target_state == target for a in decision.actions):
        raise _refusal(conversation, inbound)
    return conversation


def _refusal(conversation: Conversation, inbound: PersonsRequest) -> Conflict:
    """Why the request led nowhere, coded for the console (`servicer` is a userid it names)."""
    holder, state = conversation.servicer_userid, conversation.wecom_state
    pending = bool(conversation.state and conversation.state.get("pending_transition"))
    if isinstance(inbound, EndByHand):
        if pending:
            return Conflict(
                "a transfer of the session is on its way; try again in a moment", "transfer_pending"
            )
        return Conflict("the session is neither with a servicer nor waiting in the pool", "nothing_to_end")
    if isinstance(inbound, ManualTake):
        if holder:
            return Conflict(f"the customer is already with {holder}", "already_with", {"servicer": holder})
        if state != 2:
            return Conflict("the customer is not waiting in the pool", "not_waiting")
        return Conflict(
            f"{inbound.servicer_userid} cannot take the customer: not receiving, or not a servicer here",
            "cannot_take",
            {"servicer": inbound.servicer_userid},
        )
    if state != 3 or pending:
        return Conflict(
            "the session is not with a servicer now, or a transfer is on its way", "not_with_servicer"
        )
    if holder == inbound.servicer_userid:
        return Conflict(f"the customer is already with {holder}", "already_with", {"servicer": holder})
    return Conflict(
        f"{inbound.servicer_userid} cannot take it: not receiving, at the cap, or not a servicer here",
        "cannot_hand_over",
        {"servicer": inbound.servicer_userid},
    )
