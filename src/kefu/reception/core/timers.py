"""When the shell should wake decide() up: the AI idle timeout and the next reception opening."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.reception.core.settings import AccountSettings
from kefu.reception.core.state import SENDABLE_STATES, ConversationState


def next_idle_check(state: ConversationState, settings: AccountSettings) -> datetime | None:
    """When to feed `IdleCheck()`: the end of the AI idle timeout, or None when nothing can time out."""
    minutes = settings.session.ai_idle_timeout_minutes
    if minutes is None or not settings.enabled or state.last_activity_at is None:
        return None
    if state.wecom_state not in SENDABLE_STATES or state.pending_transition or state.waiting_for_opening:
        return None
    if state.ended_locally:
        return None
    return state.last_activity_at + timedelta(minutes=minutes)


def next_opening_check(state: ConversationState, settings: AccountSettings, now: datetime) -> datetime | None:
    """When to feed `OpeningReached()`: the next reception opening, while the customer waits for it."""
    if not state.waiting_for_opening:
        return None
    return settings.calendar.next_opening(now)
