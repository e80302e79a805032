"""The no-reply notice, pure: the clock starts when a servicer gets the session or the customer
writes after the servicer's last word, stops when the servicer writes, and the notice goes out
once per session with the taken code; moves in the WeCom app are recorded, flagged over a cap."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from kefu.reception.core import (
    CheckState,
    IdleCheck,
    Reconciled,
    RecordRouting,
    ServicerLoad,
    ServicerMessage,
    SessionStatusChange,
    Transition,
    next_idle_check,
)

from .helpers import T0, mirror, only_event_send, run, settings, summaries, text

NOTICE = {"no_reply_notice": {"enabled": True, "minutes": 5, "text": "客服正在查询，请稍候。"}}
ON = settings(queue=NOTICE)


def taken(servicer: str = "alice", *, code: str | None = "T1", kind: int = 1) -> SessionStatusChange:
    return SessionStatusChange(
        msgid="c1", change_type=kind, new_servicer_userid=servicer, msg_code=code, sent_at=T0
    )  # type: ignore[arg-type]


def servicer_says(at: datetime = T0) -> ServicerMessage:
    return ServicerMessage(msgid="s1", servicer_userid="alice", sent_at=at)


def test_a_take_starts_the_clock_and_the_notice_goes_out_once_with_the_taken_code() -> None:
    state = run(mirror(2), taken(), ON).state
    assert state.awaiting_reply_since == T0
    due = next_idle_check(state, ON)
    assert due == T0 + timedelta(minutes=5)

    early = run(state, IdleCheck(), ON, now=due - timedelta(seconds=1))
    assert summaries(early) == [] and early.state.no_reply_notice_sent is False

    on_time = run(state, IdleCheck(), ON, now=due)
    sent = only_event_send(on_time)
    assert (sent.code, sent.purpose, sent.content.text) == ("T1", "no_reply_notice", "客服正在查询，请稍候。")  # type: ignore[union-attr]
    assert next_idle_check(on_time.state, ON) == on_time.state.session_expires_at()  # once per session

    again = run(on_time.state, IdleCheck(), ON, now=due + timedelta(minutes=10))
    assert summaries(again) == []


def test_the_servicer_answering_stops_the_clock_and_the_customer_writing_restarts_it() -> None:
    state = run(mirror(2), taken(), ON).state
    answered = run(state, servicer_says(T0 + timedelta(minutes=1)), ON).state
    assert answered.awaiting_reply_since is None
    assert next_idle_check(answered, ON) == answered.session_expires_at()

    later = T0 + timedelta(minutes=3)
    asked = run(answered, text("还在吗", at=later), ON).state
    assert asked.awaiting_reply_since == later
    assert next_idle_check(asked, ON) == later + timedelta(minutes=5)
    asked_again = run(asked, text("？", at=later + timedelta(minutes=1), msgid="m2"), ON).state
    assert asked_again.awaiting_reply_since == later  # waiting since the first unanswered one


def test_without_a_live_taken_code_nothing_is_sent_and_nothing_is_tried_again() -> None:
    state = run(mirror(2), taken(code=None), ON).state
    decision = run(state, IdleCheck(), ON, now=T0 + timedelta(minutes=5))
    assert summaries(decision) == []
    assert decision.state.no_reply_notice_sent is True
    assert next_idle_check(decision.state, ON) == decision.state.session_expires_at()  # 48 h only


def test_off_by_default_and_leaving_the_human_state_clears_it() -> None:
    state = run(mirror(2), taken(), settings()).state
    assert next_idle_check(state, settings()) == state.session_expires_at()
    ended = run(state, taken(kind=3, code=None), ON).state
    assert ended.awaiting_reply_since is None


def test_the_notice_and_the_taken_notice_cannot_share_the_one_code() -> None:
    with pytest.raises(ValidationError, match="taken_notice mode none"):
        settings(queue={**NOTICE, "taken_notice": {"mode": "fixed", "text": "人工客服已接入"}})


def test_a_take_in_the_app_is_recorded_and_flagged_past_the_cap() -> None:
    full = [ServicerLoad(userid="alice", on_duty=True, active_sessions=3, max_sessions=3)]
    decision = run(mirror(2), taken(), ON, servicers=full)
    (recorded,) = [a for a in decision.actions if isinstance(a, RecordRouting)]
    assert (recorded.decision.rule, recorded.decision.userid, recorded.decision.over_cap) == (
        "app",
        "alice",
        True,
    )
    assert recorded.decision.explain() == "企业微信内接入 → alice（当前 3 个会话） → 超出接待上限"

    room = [ServicerLoad(userid="alice", on_duty=True, active_sessions=1, max_sessions=3)]
    (recorded,) = [
        a for a in run(mirror(2), taken(), ON, servicers=room).actions if isinstance(a, RecordRouting)
    ]
    assert recorded.decision.over_cap is False


def test_the_echo_of_kefus_own_transfer_is_not_recorded_twice() -> None:
    pending = Transition(target_state=3, servicer_userid="alice", session_no=1, at=T0)
    decision = run(mirror(2, pending_transition=pending), taken(), ON)
    assert not [a for a in decision.actions if isinstance(a, RecordRouting)]


def test_a_state_check_asks_wecom_about_a_human_session_or_an_unconfirmed_transfer_only() -> None:
    assert summaries(run(mirror(3), CheckState(), ON)) == [("reconcile",)]
    pending = Transition(target_state=3, servicer_userid="alice", session_no=1, at=T0)
    assert summaries(run(mirror(2, pending_transition=pending), CheckState(), ON)) == [("reconcile",)]
    assert summaries(run(mirror(1), CheckState(), ON)) == []


def test_wecom_showing_no_such_move_releases_the_transfer_that_never_happened() -> None:
    pending = Transition(target_state=3, servicer_userid="alice", session_no=1, at=T0)
    state = run(mirror(2, pending_transition=pending), Reconciled(wecom_state=2), ON).state
    assert (state.pending_transition, state.wecom_state) == (None, 2)
