"""When the shell should wake decide() up: the AI idle timeout, the queue timeout and the next
reception opening."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.reception.core.settings import AccountSettings
from kefu.reception.core.state import SENDABLE_STATES, STATE_POOL, ConversationState


def next_idle_check(state: ConversationState, settings: AccountSettings) -> datetime | None:
    """When to feed `IdleCheck()`: the end of the AI idle timeout or of the queue timeout (in the
    pool), or None when nothing can time out."""
    if state.wecom_state == STATE_POOL:
        return queue_timeout_at(state, settings)
    minutes = settings.session.ai_idle_timeout_minutes
    if minutes is None or not settings.enabled or state.last_activity_at is None:
        return None
    if state.wecom_state not in SENDABLE_STATES or state.pending_transition or state.waiting_for_opening:
        return None
    if state.ended_locally:
        return None
    return state.last_activity_at + timedelta(minutes=minutes)


def queue_timeout_at(state: ConversationState, settings: AccountSettings) -> datetime | None:
    """When a customer waiting in the pool has waited too long (queue.timeout_minutes)."""
    minutes = settings.queue.timeout_minutes
    if minutes is None or state.queued_at is None or state.pending_transition or not settings.enabled:
        return None
    if state.ended_locally:  # WeCom refused to end the wait (2 → 4): Kefu has ended it already
        return None
    return state.queued_at + timedelta(minutes=minutes)


def next_opening_check(state: ConversationState, settings: AccountSettings, now: datetime) -> datetime | None:
    """When to feed `OpeningReached()`: the next reception opening, while the customer waits for it."""
    if not state.waiting_for_opening:
        return None
    return settings.calendar.next_opening(now)
