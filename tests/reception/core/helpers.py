"""Builders for decide() tests: settings, mirror states, inbounds, and readable action summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kefu.ai import Answer
from kefu.ai.settings import AISettings
from kefu.config.schema import Account
from kefu.reception.core import (
    AccountSettings,
    ConversationState,
    CustomerNonText,
    CustomerText,
    Decision,
    Inbound,
    Menu,
    Phrase,
    Send,
    SendOnEvent,
    ServicerLoad,
    Text,
    decide,
)

# Wednesday 2026-11-25 10:00 in Shanghai: open with the default hours (Mon–Fri 09:00-18:00).
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 20:00 Shanghai: closed
NEXT_MORNING = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # Thursday 09:00 Shanghai: opens
NATIONAL_DAY = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # Thursday, statutory holiday
ADJUSTED_SATURDAY = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # a 调休 working Saturday

SERVICERS = [
    ServicerLoad(userid="alice", on_duty=True, active_sessions=0, max_sessions=3),
    ServicerLoad(userid="bob", on_duty=True, active_sessions=0, max_sessions=3),
]
NOBODY = [ServicerLoad(userid="alice", on_duty=False, active_sessions=0, max_sessions=3)]


def settings(**sections: Any) -> AccountSettings:
    """Account settings from config-file shaped sections, e.g. settings(reception={"mode": "ai_only"})."""
    enabled = sections.pop("enabled", True)
    account = Account.model_validate(
        {"connection": "main", "open_kfid": "wk1", "enabled": enabled, **sections}
    )
    return AccountSettings.from_config(account, AISettings())


DEFAULT = settings()
MESSAGES_ON = {
    "welcome": {"mode": "fixed", "text": "您好，欢迎咨询"},
    "ending": {"mode": "fixed", "text": "本次服务已结束"},
    "survey": {
        "mode": "fixed",
        "text": "请评价本次服务",
        "options": [{"label": "满意", "score": 100}, {"label": "不满意", "score": 0}],
    },
    "paused": {"mode": "fixed", "text": "暂停服务"},
}
NOTICES_ON = {
    "pool_notice": {"mode": "fixed", "text": "正在排队，前面还有 {position} 位"},
    "taken_notice": {"mode": "ai", "text": "人工客服已接入"},
}


def mirror(wecom_state: int, *, at: datetime = T0 - timedelta(minutes=1), **fields: Any) -> ConversationState:
    """A session in `wecom_state` that started with a customer message at `at` (session 1)."""
    base: dict[str, Any] = {
        "wecom_state": wecom_state,
        "owner": {0: "none", 1: "ai", 2: "pool", 3: "servicer", 4: "none"}[wecom_state],
        "session_no": 1,
        "session_started_at": at,
        "last_customer_message_at": at,
        "last_activity_at": at,
        "servicer_userid": "alice" if wecom_state == 3 else None,
    }
    base.update(fields)
    return ConversationState(**base)


def answer(text: str = "退货请在订单页申请。", *, not_sure: bool = False) -> Answer:
    return Answer(text=text, confidence=0.2 if not_sure else 0.9, entry=None, not_sure=not_sure)


def text(
    content: str = "怎么退货",
    *,
    at: datetime = T0,
    menu_id: str | None = None,
    ai: Answer | None = None,
    msgid: str = "m1",
) -> CustomerText:
    return CustomerText(msgid=msgid, text=content, menu_id=menu_id, sent_at=at, ai_answer=ai)


def image(*, at: datetime = T0) -> CustomerNonText:
    return CustomerNonText(msgid="img1", msgtype="image", sent_at=at)


def run(
    state: ConversationState,
    inbound: Inbound,
    account: AccountSettings = DEFAULT,
    servicers: Sequence[ServicerLoad] = SERVICERS,
    now: datetime | None = None,
) -> Decision:
    """One decide call; `now` defaults to the inbound's send time (else T0)."""
    when = now or getattr(inbound, "sent_at", None) or T0
    return decide(state, inbound, account, list(servicers), when)


def run_all(
    state: ConversationState,
    inbounds: Sequence[Inbound],
    account: AccountSettings = DEFAULT,
    servicers: Sequence[ServicerLoad] = SERVICERS,
    now: datetime = T0,
) -> tuple[ConversationState, list[tuple[Any, ...]]]:
    """Feed inbounds in order; the state and every action's summary."""
    summaries: list[tuple[Any, ...]] = []
    for inbound in inbounds:
        decision = decide(state, inbound, account, list(servicers), now)
        state = decision.state
        summaries.extend(summary(a) for a in decision.actions if a.kind not in BOOKKEEPING)
    return state, summaries


def _content_summary(content: Any) -> Any:
    if isinstance(content, Text):
        return content.text
    if isinstance(content, Phrase):
        return (content.intent, content.mode)
    if isinstance(content, Menu):
        return ("menu", _content_summary(content.head), tuple(c.id for c in content.choices))
    raise AssertionError(content)


def summary(action: Any) -> tuple[Any, ...]:
    """A short, readable tuple per action, e.g. ("send", "ai_answer") or ("transfer", 3, "alice")."""
    match action.kind:
        case "send":
            return ("send", action.purpose)
        case "send_on_event":
            return ("event", action.code_kind, action.purpose)
        case "transfer":
            return ("transfer", action.target_state, action.servicer_userid)
        case "reconcile":
            return ("reconcile",)
        case "record_rating":
            return ("rating", action.session_no, action.score, action.servicer_userid)
        case "mark_recalled":
            return ("recalled", action.msgid, action.by)
        case "record_send_failure":
            return ("send_failure", action.msgid, action.fail_type)
    raise AssertionError(action)


# Kefu's own records of routing and 留言: tests/routing, tests/reception/test_routing.py and
# tests/reception/test_follow_ups.py check them.
BOOKKEEPING = frozenset({"record_routing", "record_follow_up"})


def summaries(decision: Decision) -> list[tuple[Any, ...]]:
    """The actions that reach WeCom or the records, routing's own bookkeeping left out (every
    route() records its decision; tests/routing and test_routing_records check those)."""
    return [summary(a) for a in decision.actions if a.kind not in BOOKKEEPING]


def only_send(decision: Decision) -> Send:
    sends = [a for a in decision.actions if isinstance(a, Send)]
    assert len(sends) == 1, decision.actions
    return sends[0]


def only_event_send(decision: Decision) -> SendOnEvent:
    sends = [a for a in decision.actions if isinstance(a, SendOnEvent)]
    assert len(sends) == 1, decision.actions
    return sends[0]


def check_state(state: ConversationState, expected: dict[str, Any]) -> None:
    got = {key: getattr(state, key) for key in expected}
    assert got == expected
