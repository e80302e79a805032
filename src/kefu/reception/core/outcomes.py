"""Rules for the outcomes of Kefu's own actions, fed back by the shell: trans, sends, reconciliation.

WeCom wins: a refusal is recorded and checked with `service_state/get`, then
decided again from WeCom's answer — never retried blindly.
"""

from __future__ import annotations

from kefu.reception.core.actions import Reconcile
from kefu.reception.core.customer import request_human
from kefu.reception.core.events import on_opening_reached, settle
from kefu.reception.core.inbound import OpeningReached, Reconciled, SendRefused, TransferDone, TransferRefused
from kefu.reception.core.messages import phrase_for
from kefu.reception.core.mirror import Context
from kefu.reception.core.state import (
    SENDABLE_STATES,
    SENDS_PER_CUSTOMER_MESSAGE,
    STATE_ENDED,
    STATE_HUMAN,
    STATE_POOL,
    Transition,
)

# send_msg refusals that say the mirror was wrong about the session (wecom-kf-api.md §5.3).
MIRROR_WRONG = frozenset({95018, 95001, 95002})
SESSION_ALREADY_ENDED = 95013
TRANSITION_NOT_ALLOWED = 95016
SERVICER_UNAVAILABLE = frozenset({95014, 95019})  # not a receptionist / stopped reception


def on_transfer_done(ctx: Context, done: TransferDone) -> None:
    state = ctx.state
    made = Transition(
        target_state=done.target_state,
        servicer_userid=done.servicer_userid if done.target_state == STATE_HUMAN else None,
        session_no=state.session_no,
        at=ctx.now,
    )
    ctx.update(pending_transition=None, last_transition=made, refused_requests=0)
    reason = "kefu_ended" if done.target_state == STATE_ENDED else "kefu_transfer"
    settle(
        ctx,
        done.target_state,
        made.servicer_userid,
        msg_code=done.msg_code,
        code_issued_at=ctx.now,
        reason=reason,
    )


def on_transfer_refused(ctx: Context, refused: TransferRefused) -> None:
    pending = ctx.state.pending_transition
    ctx.update(pending_transition=None)
    ctx.note("transfer_refused", target_state=refused.target_state, errcode=refused.errcode)
    if refused.errcode == SESSION_ALREADY_ENDED:
        if ctx.state.wecom_state != STATE_ENDED:
            ctx.end_session(reason="wecom_session_ended", servicer=ctx.state.servicer_userid)
        return
    if refused.target_state == STATE_ENDED and refused.errcode == TRANSITION_NOT_ALLOWED:
        if ctx.state.wecom_state == STATE_POOL:
            # WeCom keeps the customer in its pool (2 → 4 is UNCONFIRMED): Kefu must not call the
            # wait over. It reads WeCom's state; a queue timeout is told then (on_reconciled).
            ctx.actions.append(Reconcile())
            return
        # WeCom would not end it (1 → 4): Kefu closes it in its own records and says nothing.
        ctx.end_session(reason="ended_by_kefu_only", servicer=ctx.state.servicer_userid, in_wecom=False)
        return
    if (
        refused.target_state == STATE_HUMAN
        and refused.errcode in SERVICER_UNAVAILABLE
        and pending is not None
        and pending.servicer_userid
    ):
        # That servicer cannot take it: the next one, else the pool.
        ctx.update(refused_servicers=[*ctx.state.refused_servicers, pending.servicer_userid])
        ctx.route(reason="servicer_unavailable")
        return
    if refused.target_state in (STATE_POOL, STATE_HUMAN) and ctx.state.wecom_state in SENDABLE_STATES:
        # A request for a human from the AI: not dropped, decided again from WeCom's state.
        ctx.update(refused_requests=ctx.state.refused_requests + 1)
    ctx.actions.append(Reconcile())


def on_send_refused(ctx: Context, refused: SendRefused) -> None:
    ctx.note(
        "send_refused", action_kind=refused.action_kind, errcode=refused.errcode, purpose=refused.purpose
    )
    if refused.action_kind != "send":
        return  # an event code is single-use and short-lived: skipped, never retried
    if refused.errcode == 95001:
        ctx.update(sends_since_customer_message=SENDS_PER_CUSTOMER_MESSAGE)
    if refused.errcode == 95002:
        ctx.update(window_refused=True)
    if refused.errcode in MIRROR_WRONG:
        ctx.actions.append(Reconcile())


def on_reconciled(ctx: Context, answer: Reconciled) -> None:
    """Adopt WeCom's state, then decide again what (if anything) is due."""
    state = ctx.state
    target = answer.wecom_state
    servicer = answer.servicer_userid if target == STATE_HUMAN else None
    agrees = state.wecom_state == target and state.servicer_userid == servicer
    ctx.note("reconciled", mirror_state=state.wecom_state, wecom_state=target, agrees=agrees)
    pending = state.pending_transition
    # Ours only if WeCom shows the very move asked for: a servicer who took the customer in the
    # app is not the one Kefu's pending trans named.
    ours = (
        pending is not None
        and pending.target_state == target
        and (target != STATE_HUMAN or pending.servicer_userid == servicer)
    )
    if ours:
        ctx.update(pending_transition=None, last_transition=pending)  # the trans did go through
    elif pending is not None:
        # Its delivery has ended (the check runs after it, under the conversation's lock), and
        # WeCom shows no such move: it never happened; the servicer it held is free again.
        ctx.update(pending_transition=None)
        ctx.note("transfer_unconfirmed", target_state=pending.target_state, servicer=pending.servicer_userid)
    if agrees:
        pass
    elif target == STATE_ENDED:
        ctx.end_session(reason="reconciled", servicer=state.servicer_userid)
    else:
        if state.wecom_state == STATE_ENDED:
            ctx.start_session(ctx.now, kind="normal", reason="reconciled")
        if servicer is not None and not ours:
            # Taken or given in the WeCom app, found here before its event: recorded as the event
            # would have (which then finds the mirror agreeing and records nothing).
            ctx.record_app_move(servicer, "reconciled")
        ctx.move(target, servicer=servicer, reason="reconciled")
    _after_refusal(ctx, asked_meanwhile=pending is not None)
    # What could be due now: a customer who waited for opening, if reception is open.
    on_opening_reached(ctx, OpeningReached())


def _after_refusal(ctx: Context, *, asked_meanwhile: bool) -> None:
    """What WeCom's state owes the customer after Kefu's move was refused: a request for a human
    asked again once (WeCom still shows the API, from where a human is allowed), then told no
    human can be reached now, to try again later; a queue timeout WeCom kept in its pool,
    its message with the pool's code if still unused (nothing else reaches a waiting customer).
    `asked_meanwhile`: a transfer was on its way when WeCom's state was read (the customer asked
    again before the check): that request was the retry; a second one could move them twice."""
    state = ctx.state
    if state.wecom_state == STATE_POOL and state.queue_timeout and state.leaving_message is None:
        ctx.note("queue_timeout_kept_in_pool")
        ctx.update(leaving_message="queue_timeout")  # the message invites them to leave one
        if ctx.settings.enabled:
            timeout = phrase_for(ctx.settings.queue.timeout_message, "queue_timeout")
            if ctx.send_on_event("pool", "queue_timeout", timeout):
                ctx.update(timeout_message_sent=True)  # the end, when it comes, says nothing more
    refusals = state.refused_requests
    if not refusals:
        return
    live = state.wecom_state in SENDABLE_STATES and not state.ended_locally and ctx.settings.enabled
    if not live or asked_meanwhile:
        ctx.update(refused_requests=0)  # with a human, in the pool or ended: nothing is owed
        return
    if refusals == 1:
        ctx.note("request_repeated")
        request_human(ctx, reason="request_repeated")
        if ctx.state.pending_transition is None:  # off hours, or the pool is full: said so
            ctx.update(refused_requests=0)
        return
    ctx.update(refused_requests=0)
    ctx.note("request_refused_again")
    # The account's text (default: no human can be reached now, try again later); a later request
    # is routed as any.
    refused = phrase_for(ctx.settings.queue.transfer_refused_message, "transfer_refused")
    ctx.send("transfer_refused", refused)
