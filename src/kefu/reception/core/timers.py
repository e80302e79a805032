"""When the shell should wake decide() up: the AI idle timeout, the queue timeout, the no-reply
notice and the next reception opening."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.reception.core.settings import AccountSettings
from kefu.reception.core.state import SENDABLE_STATES, STATE_HUMAN, STATE_POOL, ConversationState


def next_idle_check(state: ConversationState, settings: AccountSettings) -> datetime | None:
    """When to feed `IdleCheck()`: the end of the AI idle timeout or of the queue timeout (in the
    pool), or None when nothing can time out."""
    if state.wecom_state == STATE_POOL:
        return _earliest(queue_timeout_at(state, settings), state.session_expires_at())
    if state.wecom_state == STATE_HUMAN:
        # WeCom ends the session at 48 h without an event: then the servicer's load drops.
        return _earliest(no_reply_due_at(state, settings), state.session_expires_at())
    minutes = settings.session.ai_idle_timeout_minutes
    if minutes is None or not settings.enabled or state.last_activity_at is None:
        return None
    if state.wecom_state not in SENDABLE_STATES or state.pending_transition or state.waiting_for_opening:
        return None
    if state.ended_locally:
        return None
    return state.last_activity_at + timedelta(minutes=minutes)


def _earliest(*times: datetime | None) -> datetime | None:
    return min((t for t in times if t is not None), default=None)


def queue_timeout_at(state: ConversationState, settings: AccountSettings) -> datetime | None:
    """When a customer waiting in the pool has waited too long (queue.timeout_minutes)."""
    minutes = settings.queue.timeout_minutes
    if minutes is None or state.queued_at is None or state.pending_transition or not settings.enabled:
        return None
    if state.ended_locally:  # WeCom refused to end the wait (2 → 4): Kefu has ended it already
        return None
    if state.queue_timeout:  # timed out already, and WeCom kept the customer in its pool
        return None
    return state.queued_at + timedelta(minutes=minutes)


def no_reply_due_at(state: ConversationState, settings: AccountSettings) -> datetime | None:
    """When the customer of a human session has waited `no_reply_notice.minutes` for the servicer's
    word, while the notice is on and has not gone out this session."""
    notice = settings.queue.no_reply_notice
    if not notice.enabled or not settings.enabled or state.no_reply_notice_sent:
        return None
    if state.awaiting_reply_since is None or state.pending_transition is not None:
        return None
    return state.awaiting_reply_since + timedelta(minutes=notice.minutes)


def next_opening_check(state: ConversationState, settings: AccountSettings, now: datetime) -> datetime | None:
    """When to feed `OpeningReached()`: the next reception opening, while the customer waits for it."""
    if not state.waiting_for_opening:
        return None
    return settings.calendar.next_opening(now)
