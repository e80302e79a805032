"""Rules for WeCom events (origin 4), servicer messages (origin 5) and timers. None reach the AI."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.reception.core.actions import MarkRecalled, Reconcile, RecordSendFailure, Text
from kefu.reception.core.customer import request_human
from kefu.reception.core.inbound import (
    CheckState,
    Dispatch,
    EndByHand,
    EnterSession,
    HandOver,
    IdleCheck,
    ManualTake,
    OpeningReached,
    Recall,
    SendFailed,
    ServicerMessage,
    SessionStatusChange,
)
from kefu.reception.core.messages import ending_content, phrase_for, pool_notice_phrase
from kefu.reception.core.mirror import Context
from kefu.reception.core.state import (
    SENDABLE_STATES,
    SENDS_PER_CUSTOMER_MESSAGE,
    STATE_ENDED,
    STATE_HUMAN,
    STATE_POOL,
)
from kefu.reception.core.timers import no_reply_due_at, queue_timeout_at

# The state each session_status_change leads to (wecom-kf-api.md §4.4).
CHANGE_TARGET = {1: STATE_HUMAN, 2: STATE_HUMAN, 3: STATE_ENDED, 4: STATE_HUMAN}
CHANGE_REASON = {
    1: "servicer_took_from_pool",
    2: "servicer_transferred",
    3: "servicer_ended",
    4: "servicer_retook",
}


def on_enter_session(ctx: Context, event: EnterSession) -> None:
    """The welcome, via `send_msg_on_event`, within 20 s of the event."""
    ctx.note(
        "entered", scene=event.scene, scene_param=event.scene_param, welcome_code=bool(event.welcome_code)
    )
    if not event.welcome_code:
        return
    ctx.issue_code("welcome", event.welcome_code, issued_at=event.sent_at)
    if ctx.settings.enabled:
        ctx.send_on_event("welcome", "welcome", phrase_for(ctx.settings.messages.welcome, "welcome"))


def settle(
    ctx: Context,
    target: int,
    servicer: str | None,
    *,
    msg_code: str | None,
    code_issued_at: datetime,
    reason: str,
    ended_by: str | None = None,
) -> None:
    """WeCom moved the session to `target` (Kefu's trans, or a servicer in the app).

    A move the mirror already shows (the echo of Kefu's own trans) is recognised,
    not applied twice; a code still gets its one notice if none went out yet.
    """
    state = ctx.state
    if state.wecom_state == target and (target != STATE_HUMAN or state.servicer_userid == servicer):
        ctx.note("transition_recognised", to_state=target, servicer=servicer, reason=reason)
    elif target == STATE_ENDED:
        ctx.end_session(reason=reason, servicer=ended_by or state.servicer_userid)
    else:
        if state.wecom_state == STATE_ENDED:  # a servicer re-took an ended session
            ctx.start_session(code_issued_at, kind="normal", reason=reason)
        ctx.move(target, servicer=servicer, reason=reason)
        if target == STATE_HUMAN:
            ctx.update(refused_servicers=[], waiting_for_opening=False)
    if msg_code:
        _use_code(ctx, target, msg_code, code_issued_at)


def _use_code(ctx: Context, target: int, msg_code: str, issued_at: datetime) -> None:
    settings = ctx.settings
    if target == STATE_POOL:
        ctx.issue_code("pool", msg_code, issued_at=issued_at)
        if settings.enabled and not ctx.state.pool_notice_sent:
            if ctx.send_on_event("pool", "pool_notice", pool_notice_phrase(settings)):
                ctx.update(pool_notice_sent=True)
    elif target == STATE_HUMAN:
        ctx.issue_code("taken", msg_code, issued_at=issued_at)
        if settings.enabled and not ctx.state.taken_notice_sent:
            notice = phrase_for(settings.queue.taken_notice, "taken_notice")
            if ctx.send_on_event("taken", "taken_notice", notice):
                ctx.update(taken_notice_sent=True)
    else:
        ctx.issue_code("ending", msg_code, issued_at=issued_at)
        _send_ending(ctx)


def _send_ending(ctx: Context) -> None:
    """Ending message + survey as ONE message, at most once per ended session."""
    ended = ctx.state.ended_session(ctx.state.session_no)
    if ended is None or ended.ending_sent or ended.kind == "rating_only" or not ctx.settings.enabled:
        return
    if ended.queue_timeout:  # the queue timeout's own message, no survey: nobody served them
        content = phrase_for(ctx.settings.queue.timeout_message, "queue_timeout")
        if ctx.send_on_event("ending", "queue_timeout", content):
            ctx.replace_ended(ended.session_no, ending_sent=True)
        return
    # The survey rates a servicer's service: an AI session or a wait nobody took gets the
    # ending alone (product.md: "after a human session ends").
    last_words = ending_content(ctx.settings, ended.session_no, with_survey=ended.served)
    if ctx.send_on_event("ending", "ending", last_words):
        ctx.replace_ended(ended.session_no, ending_sent=True)


def on_status_change(ctx: Context, event: SessionStatusChange) -> None:
    target = CHANGE_TARGET[event.change_type]
    servicer = event.new_servicer_userid if target == STATE_HUMAN else None
    pending = ctx.state.pending_transition
    reason = CHANGE_REASON[event.change_type]
    if (
        pending is not None
        and pending.target_state == target
        and (target != STATE_HUMAN or pending.servicer_userid == servicer)
    ):
        # WeCom echoed a trans Kefu asked for: the same move, counted once.
        ctx.update(pending_transition=None, last_transition=pending)
        reason = "kefu_transfer_echo"
    elif servicer and (ctx.state.wecom_state, ctx.state.servicer_userid) != (target, servicer):
        ctx.record_app_move(servicer, reason)  # WeCom decided: recorded, and flagged over a cap
    settle(
        ctx,
        target,
        servicer,
        msg_code=event.msg_code,
        code_issued_at=event.sent_at,
        reason=reason,
        ended_by=event.old_servicer_userid,
    )


def on_servicer_message(ctx: Context, message: ServicerMessage) -> None:
    """Only a human in state 3 can write: a mirror that says otherwise is wrong; stop the AI and check."""
    state = ctx.state
    if state.wecom_state == STATE_HUMAN and state.servicer_userid == message.servicer_userid:
        ctx.update(awaiting_reply_since=None)  # the servicer answered
        return
    if state.wecom_state == STATE_HUMAN:
        ctx.move(STATE_HUMAN, servicer=message.servicer_userid, reason="servicer_spoke")
        return
    if state.wecom_state != STATE_ENDED:
        ctx.move(STATE_HUMAN, servicer=message.servicer_userid, reason="servicer_spoke")
    ctx.actions.append(Reconcile())


def on_recall(ctx: Context, recall: Recall) -> None:
    ctx.actions.append(MarkRecalled(msgid=recall.recall_msgid, by=recall.by))


def on_send_failed(ctx: Context, failure: SendFailed) -> None:
    """`msg_send_fail`: recorded against the message; 4/5/6 say the mirror was too hopeful."""
    ctx.actions.append(RecordSendFailure(msgid=failure.fail_msgid, fail_type=failure.fail_type))
    ctx.note("send_failed", msgid=failure.fail_msgid, fail_type=failure.fail_type)
    if failure.fail_type == 6:  # over the 5-message quota
        ctx.update(sends_since_customer_message=SENDS_PER_CUSTOMER_MESSAGE)
    if failure.fail_type == 4:  # the 48 h window had closed
        ctx.update(window_refused=True)
    if failure.fail_type in (4, 5):
        ctx.actions.append(Reconcile())


def on_idle_check(ctx: Context, _: IdleCheck) -> None:
    """An AI session silent past the timeout ends (trans → 4; the ending code comes back with it);
    so does a wait in the pool past the queue timeout (its message instead of the ending); a
    servicer silent past the no-reply time gets the customer the no-reply notice."""
    state = ctx.state
    if state.wecom_state == STATE_HUMAN:
        due = no_reply_due_at(state, ctx.settings)
        if due is not None and ctx.now >= due:
            ctx.update(no_reply_notice_sent=True)  # once, sent or not: the code may be used up
            notice = ctx.settings.queue.no_reply_notice
            ctx.note("no_reply", servicer=state.servicer_userid, minutes=notice.minutes)
            ctx.send_on_event("taken", "no_reply_notice", Text(text=notice.text or ""))
        return
    if state.wecom_state == STATE_POOL:
        due = queue_timeout_at(state, ctx.settings)
        if due is not None and ctx.now >= due:
            ctx.update(queue_timeout=True)
            ctx.transfer(4, None, reason="queue_timeout")
        return
    minutes = ctx.settings.session.ai_idle_timeout_minutes
    if minutes is None or not ctx.settings.enabled:
        return
    if state.wecom_state not in SENDABLE_STATES or state.pending_transition or state.waiting_for_opening:
        return
    if state.ended_locally:
        return
    if state.last_activity_at is None or ctx.now < state.last_activity_at + timedelta(minutes=minutes):
        return
    ctx.transfer(4, None, reason="idle_timeout")


def session_live(ctx: Context) -> bool:
    """State 0/1, within the 48 h window and the session's 48 h life."""
    state = ctx.state
    closes = state.window_closes_at()
    expires = state.session_expires_at()
    return (
        state.wecom_state in SENDABLE_STATES
        and closes is not None
        and ctx.now < closes
        and (expires is None or ctx.now < expires)
    )


def on_opening_reached(ctx: Context, _: OpeningReached) -> None:
    """Reception opened: route the customer who asked for a human off hours, if still live."""
    state, settings = ctx.state, ctx.settings
    if not state.waiting_for_opening:
        return
    if not settings.enabled or settings.reception.mode == "ai_only" or not session_live(ctx):
        ctx.update(waiting_for_opening=False)
        ctx.note("opening_missed", state=state.wecom_state)
        return
    if not settings.calendar.is_open(ctx.now) or state.pending_transition is not None:
        return  # early, or a transfer is on its way: keep waiting
    ctx.update(waiting_for_opening=False)
    request_human(ctx, reason="opening_reached")


def on_dispatch(ctx: Context, _: Dispatch) -> None:
    """Capacity may have appeared: a customer waiting in the pool is routed again, in reception
    hours, on an enabled account, while the session lives."""
    state, settings = ctx.state, ctx.settings
    if state.wecom_state != STATE_POOL or not settings.enabled or not state.session_live_at(ctx.now):
        return
    if not settings.calendar.is_open(ctx.now):
        return  # dispatch pauses until the next period
    ctx.route(reason="dispatch")


def on_check_state(ctx: Context, _: CheckState) -> None:
    """Ask WeCom (service_state/get) about a human session or an unconfirmed transfer."""
    if ctx.state.wecom_state == STATE_HUMAN or ctx.state.pending_transition is not None:
        ctx.note("state_checked", state=ctx.state.wecom_state)
        ctx.actions.append(Reconcile())


def on_manual_take(ctx: Context, take: ManualTake) -> None:
    ctx.take_by_hand(take.servicer_userid, by=take.by)


def on_hand_over(ctx: Context, handing: HandOver) -> None:
    ctx.hand_over(handing.servicer_userid, by=handing.by)


def on_end_by_hand(ctx: Context, ending: EndByHand) -> None:
    """Only a session with a servicer or waiting in the pool, and no transfer on its way: an AI
    session ends by its own timeout, and a transfer's outcome must come back first."""
    state = ctx.state
    if state.wecom_state not in (STATE_HUMAN, STATE_POOL) or state.pending_transition is not None:
        ctx.note("end_refused", state=state.wecom_state, by=ending.by)
        return
    # Kept as the session record's end_requested (at most 32 characters): reports tell who.
    ctx.transfer(4, None, reason=f"ended_by_{ending.who or 'hand'}")
