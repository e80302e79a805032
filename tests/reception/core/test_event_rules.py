"""Events and timers through decide(): welcome, pool/taken notices, ending + survey, idle timeout,
session_status_change (including the echo of Kefu's own trans), servicer messages, recalls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from kefu.reception.core import (
    AccountSettings,
    ConversationState,
    EnterSession,
    IdleCheck,
    Inbound,
    Menu,
    Phrase,
    Recall,
    SendFailed,
    ServicerMessage,
    SessionStatusChange,
    TransferDone,
    TransferRefused,
    Transition,
    next_idle_check,
    parse_rating,
)

from .helpers import (
    MESSAGES_ON,
    NOTICES_ON,
    T0,
    answer,
    check_state,
    mirror,
    only_event_send,
    run,
    run_all,
    settings,
    summaries,
    text,
)

ALL_ON = settings(messages=MESSAGES_ON, queue=NOTICES_ON, session={"ai_idle_timeout_minutes": 10})
ENDING_ONLY = settings(messages={"ending": MESSAGES_ON["ending"]})
SURVEY_ONLY = settings(messages={"survey": MESSAGES_ON["survey"]})
SILENT = settings(session={"ai_idle_timeout_minutes": 10})
DISABLED = settings(enabled=False, messages=MESSAGES_ON, queue=NOTICES_ON)
LATER = T0 + timedelta(seconds=2)


def pending(target: int, servicer: str | None = None) -> Transition:
    return Transition(target_state=target, servicer_userid=servicer, session_no=1, at=T0)  # type: ignore[arg-type]


def enter(code: str | None = "W1", at: datetime = T0) -> EnterSession:
    return EnterSession(msgid="e1", welcome_code=code, scene="site", scene_param="a%3Db", sent_at=at)


def change(
    kind: int, *, old: str | None = None, new: str | None = None, code: str | None = None
) -> SessionStatusChange:
    return SessionStatusChange(
        msgid="c1",
        change_type=kind,
        old_servicer_userid=old,
        new_servicer_userid=new,
        msg_code=code,
        sent_at=T0,
    )  # type: ignore[arg-type]


@dataclass
class Row:
    given: ConversationState
    inbound: Inbound
    account: AccountSettings
    expect: list[tuple[Any, ...]]
    state: dict[str, Any] = field(default_factory=dict)
    now: datetime = LATER


ROWS = {
    # --- welcome ----------------------------------------------------------------------------
    "enter_session with a welcome code → the welcome via that code": Row(
        ConversationState(), enter(), ALL_ON, [("event", "welcome", "welcome")], {"wecom_state": 4}
    ),
    "enter_session without a code → nothing": Row(ConversationState(), enter(code=None), ALL_ON, []),
    "welcome mode none → nothing": Row(ConversationState(), enter(), SILENT, []),
    "welcome processed past its 20 s → dropped, never sent late": Row(
        ConversationState(), enter(), ALL_ON, [], now=T0 + timedelta(seconds=21)
    ),
    "welcome in a disabled account → nothing": Row(ConversationState(), enter(), DISABLED, []),
    # --- pool and taken notices -------------------------------------------------------------
    "trans → 2 done with a code → the pool notice": Row(
        mirror(1, pending_transition=pending(2)),
        TransferDone(target_state=2, msg_code="P1"),
        ALL_ON,
        [("event", "pool", "pool_notice")],
        {"wecom_state": 2, "owner": "pool", "pending_transition": None, "pool_notice_sent": True},
    ),
    "trans → 2 done without a code → nothing sent": Row(
        mirror(1, pending_transition=pending(2)), TransferDone(target_state=2), ALL_ON, [], {"wecom_state": 2}
    ),
    "trans → 3 done with a code → the taken notice": Row(
        mirror(1, pending_transition=pending(3, "alice")),
        TransferDone(target_state=3, servicer_userid="alice", msg_code="T1"),
        ALL_ON,
        [("event", "taken", "taken_notice")],
        {"wecom_state": 3, "owner": "servicer", "servicer_userid": "alice"},
    ),
    "notices set to none → nothing, the mirror still moves": Row(
        mirror(1, pending_transition=pending(2)),
        TransferDone(target_state=2, msg_code="P1"),
        SILENT,
        [],
        {"wecom_state": 2},
    ),
    "taken from the pool in the app (change 1) → the taken notice": Row(
        mirror(2),
        change(1, new="bob", code="T2"),
        ALL_ON,
        [("event", "taken", "taken_notice")],
        {"servicer_userid": "bob"},
    ),
    "transferred in the app (change 2) → follow the new servicer": Row(
        mirror(3), change(2, old="alice", new="bob"), ALL_ON, [], {"wecom_state": 3, "servicer_userid": "bob"}
    ),
    "re-took an ended session (change 4) → a live human session again": Row(
        ConversationState(session_no=1),
        change(4, old="alice", new="alice"),
        ALL_ON,
        [],
        {"wecom_state": 3, "session_no": 2},
    ),
    # --- ending + survey --------------------------------------------------------------------
    "the servicer ended it (change 3) → ending + survey as one menu": Row(
        mirror(3),
        change(3, old="alice", code="X1"),
        ALL_ON,
        [("event", "ending", "ending")],
        {"wecom_state": 4, "owner": "none", "servicer_userid": None, "session_no": 1},
    ),
    "Kefu ended it (trans → 4 done) → ending + survey": Row(
        mirror(1, pending_transition=pending(4)),
        TransferDone(target_state=4, msg_code="X2"),
        ALL_ON,
        [("event", "ending", "ending")],
        {"wecom_state": 4},
    ),
    "ended without a code → nothing sent": Row(
        mirror(3), change(3, old="alice"), ALL_ON, [], {"wecom_state": 4}
    ),
    "ending and survey both none → nothing": Row(mirror(3), change(3, old="alice", code="X1"), SILENT, []),
    "ending code processed past its 20 s → dropped": Row(
        mirror(3), change(3, old="alice", code="X1"), ALL_ON, [], now=T0 + timedelta(seconds=20)
    ),
    "a rating-only session ends → no second survey": Row(
        mirror(1, session_kind="rating_only", pending_transition=pending(4)),
        TransferDone(target_state=4, msg_code="X3"),
        ALL_ON,
        [],
        {"wecom_state": 4},
    ),
    "a disabled account sends no ending": Row(mirror(3), change(3, old="alice", code="X1"), DISABLED, []),
    # --- idle timeout -----------------------------------------------------------------------
    "an AI session silent past the timeout → trans → 4": Row(
        mirror(1, at=T0 - timedelta(minutes=11)),
        IdleCheck(),
        ALL_ON,
        [("transfer", 4, None)],
        {"pending_transition": pending(4)},
        T0,
    ),
    "not yet silent long enough → nothing": Row(
        mirror(1, at=T0 - timedelta(minutes=9)), IdleCheck(), ALL_ON, [], now=T0
    ),
    "no idle timeout configured → nothing": Row(
        mirror(1, at=T0 - timedelta(hours=5)), IdleCheck(), settings(), [], now=T0
    ),
    "a human session never times out here": Row(
        mirror(3, at=T0 - timedelta(hours=5)), IdleCheck(), ALL_ON, [], now=T0
    ),
    "a customer waiting for opening keeps the session": Row(
        mirror(1, at=T0 - timedelta(hours=1), waiting_for_opening=True), IdleCheck(), ALL_ON, [], now=T0
    ),
    "WeCom refuses 1 → 4 (95016): ended in Kefu's records, nothing sent": Row(
        mirror(1, pending_transition=pending(4)),
        TransferRefused(target_state=4, errcode=95016),
        ALL_ON,
        [],
        {"wecom_state": 1, "ended_locally": True, "owner": "none", "pending_transition": None},
    ),
    "a session Kefu ended in its records only is not timed out again": Row(
        mirror(1, at=T0 - timedelta(hours=1), ended_locally=True), IdleCheck(), ALL_ON, [], now=T0
    ),
    # --- servicer messages, recalls, send failures ------------------------------------------
    "a servicer message in a human session: stored, nothing else": Row(
        mirror(3), ServicerMessage(msgid="s1", servicer_userid="alice", sent_at=T0), ALL_ON, []
    ),
    "a servicer spoke while the mirror said AI: the AI stops, check with WeCom": Row(
        mirror(1),
        ServicerMessage(msgid="s1", servicer_userid="bob", sent_at=T0),
        ALL_ON,
        [("reconcile",)],
        {"wecom_state": 3, "servicer_userid": "bob"},
    ),
    "a servicer message after the end: check with WeCom": Row(
        ConversationState(session_no=1),
        ServicerMessage(msgid="s1", servicer_userid="bob", sent_at=T0),
        ALL_ON,
        [("reconcile",)],
    ),
    "a customer recall marks the message": Row(
        mirror(1), Recall(recall_msgid="m9", by="customer"), ALL_ON, [("recalled", "m9", "customer")]
    ),
    "a servicer recall marks the message": Row(
        mirror(3), Recall(recall_msgid="s9", by="servicer"), ALL_ON, [("recalled", "s9", "servicer")]
    ),
    "msg_send_fail (customer refused) is recorded against the message": Row(
        mirror(1), SendFailed(fail_msgid="k1", fail_type=10), ALL_ON, [("send_failure", "k1", 10)]
    ),
    "msg_send_fail (window expired) is recorded; the mirror is checked": Row(
        mirror(1),
        SendFailed(fail_msgid="k1", fail_type=4),
        ALL_ON,
        [("send_failure", "k1", 4), ("reconcile",)],
        {"window_refused": True},
    ),
    "msg_send_fail (over 5) is recorded; no more sends until the customer writes": Row(
        mirror(1),
        SendFailed(fail_msgid="k1", fail_type=6),
        ALL_ON,
        [("send_failure", "k1", 6)],
        {"sends_since_customer_message": 5},
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_event(row: Row) -> None:
    decision = run(row.given, row.inbound, row.account, now=row.now)
    assert summaries(decision) == row.expect
    check_state(decision.state, row.state)


def test_welcome_deadline_is_send_time_plus_20_seconds() -> None:
    send = only_event_send(run(ConversationState(), enter(), ALL_ON, now=LATER))
    assert (send.code, send.deadline) == ("W1", T0 + timedelta(seconds=20))
    assert isinstance(send.content, Phrase) and send.content.fixed() == "您好，欢迎咨询"


def test_pool_notice_leaves_the_position_to_the_shell() -> None:
    decision = run(mirror(1), TransferDone(target_state=2, msg_code="P1"), ALL_ON)
    send = only_event_send(decision)
    assert send.deadline is None  # a 48 h code: no 20-second deadline
    assert (
        isinstance(send.content, Phrase)
        and send.content.fixed({"position": "3"}) == "正在排队，前面还有 3 位"
    )


def test_ending_and_survey_menu() -> None:
    send = only_event_send(run(mirror(3), change(3, old="alice", code="X1"), ALL_ON))
    menu = send.content
    assert isinstance(menu, Menu)
    assert isinstance(menu.head, Phrase) and menu.head.intent == "ending"
    assert isinstance(menu.prompt, Phrase) and menu.prompt.intent == "survey"  # above the buttons
    assert menu.tail is None  # nothing after them
    assert [c.label for c in menu.choices] == ["满意", "不满意"]
    clicks = [parse_rating(c.id) for c in menu.choices]
    assert [(c.session_no, c.score) for c in clicks if c] == [(1, 100), (1, 0)]
    assert all(len(c.id.encode()) <= 64 for c in menu.choices)
    assert (send.code, send.deadline) == ("X1", T0 + timedelta(seconds=20))


def test_ending_alone_is_a_text_and_survey_alone_a_menu_headed_by_its_prompt() -> None:
    ending = only_event_send(run(mirror(3), change(3, old="alice", code="X1"), ENDING_ONLY)).content
    assert isinstance(ending, Phrase) and ending.intent == "ending"
    survey = only_event_send(run(mirror(3), change(3, old="alice", code="X1"), SURVEY_ONLY)).content
    assert isinstance(survey, Menu) and survey.head is None and survey.tail is None
    assert isinstance(survey.prompt, Phrase) and survey.prompt.intent == "survey" and len(survey.choices) == 2


def test_the_ended_session_remembers_its_servicer_for_the_rating() -> None:
    state, actions = run_all(
        mirror(3),
        [change(3, old="alice", code="X1"), text("满意", menu_id="kefu_rate:1:0:100", msgid="m2")],
        ALL_ON,
        now=LATER,
    )
    assert actions == [("event", "ending", "ending"), ("rating", 1, 100, "alice"), ("send", "rating_thanks")]
    assert state.session_kind == "rating_only" and state.session_no == 2


def test_kefus_own_trans_echoed_by_a_status_change_is_counted_once() -> None:
    """The change arrives before the trans outcome: one move, one notice, the outcome recognised."""
    given = mirror(2, pending_transition=pending(3, "alice"))
    echo = change(1, new="alice", code="T1")
    first = run(given, echo, ALL_ON)
    assert summaries(first) == [("event", "taken", "taken_notice")]
    assert [e.kind for e in first.timeline] == ["state_changed"]
    second = run(first.state, TransferDone(target_state=3, servicer_userid="alice", msg_code="T2"), ALL_ON)
    assert summaries(second) == []
    assert [e.kind for e in second.timeline] == ["transition_recognised"]
    assert second.state.wecom_state == 3 and second.state.pending_transition is None


def test_an_end_echo_after_kefus_trans_4_sends_one_ending() -> None:
    given = mirror(1, pending_transition=pending(4))
    state, actions = run_all(
        given, [TransferDone(target_state=4, msg_code="X1"), change(3, code="X2")], ALL_ON, now=LATER
    )
    assert actions == [("event", "ending", "ending")]
    assert len([s for s in state.recent_sessions if s.session_no == 1]) == 1


def test_a_servicer_takeover_stops_the_ai_before_reconciling() -> None:
    state, actions = run_all(
        mirror(1),
        [
            ServicerMessage(msgid="s1", servicer_userid="bob", sent_at=T0),
            text("谢谢", ai=answer(), msgid="m2"),
        ],
        ALL_ON,
    )
    assert actions == [("reconcile",)]
    assert state.wecom_state == 3


def test_next_idle_check() -> None:
    assert next_idle_check(mirror(1, at=T0), ALL_ON) == T0 + timedelta(minutes=10)
    assert next_idle_check(mirror(1, at=T0), settings()) is None
    # With a human or in the pool: WeCom's 48 h end, when the servicer's load (or the place) frees.
    assert next_idle_check(mirror(3, at=T0), ALL_ON) == T0 + timedelta(hours=48)
    assert next_idle_check(mirror(1, at=T0, pending_transition=pending(4)), ALL_ON) is None


def test_after_a_refused_idle_end_the_next_message_starts_a_new_session_in_kefus_records() -> None:
    started = T0 - timedelta(minutes=30)
    given = mirror(1, at=started, pending_transition=pending(4))
    state, actions = run_all(
        given, [TransferRefused(target_state=4, errcode=95016), text(ai=answer(), msgid="m2")], ALL_ON
    )
    assert actions == [("send", "ai_answer")]
    assert [s.session_no for s in state.recent_sessions] == [1]
    # WeCom's session (and its 48 h clock) runs on; Kefu counts a second session.
    assert (state.session_no, state.wecom_state, state.session_started_at) == (2, 1, started)
    assert not state.ended_locally and state.owner == "ai"
