"""Customer messages through decide(): one row per scenario (given state, inbound, settings →
expected actions and mirror fields). Every row also checks wants_ai_answer against decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from kefu.reception.core import (
    AccountSettings,
    Backlog,
    ConversationState,
    EndedSession,
    Inbound,
    Menu,
    ServicerLoad,
    Text,
    Transition,
    rating_click_id,
    wants_ai_answer,
)

from .helpers import (
    DEFAULT,
    MESSAGES_ON,
    NOBODY,
    SERVICERS,
    T0,
    answer,
    check_state,
    image,
    mirror,
    only_send,
    run,
    run_all,
    settings,
    summaries,
    text,
)

AI_ONLY = settings(reception={"mode": "ai_only"})
HUMAN_ONLY = settings(reception={"mode": "human_only"})
NO_BUTTON = settings(reception={"button_transfer": {"enabled": False}})
NO_KEYWORDS = settings(reception={"keyword_transfer": {"enabled": False}})
VIP_KEYWORD = settings(reception={"keyword_transfer": {"keywords": ["VIP客服"]}})
NON_TEXT_SILENT = settings(reception={"non_text_reply": {"mode": "none"}})
DISABLED = settings(enabled=False, messages=MESSAGES_ON)
DISABLED_SILENT = settings(enabled=False)
SURVEY = settings(messages=MESSAGES_ON)
ALICE_FULL = [ServicerLoad(userid="alice", on_duty=True, active_sessions=3, max_sessions=3), *SERVICERS[1:]]

RATE_GOOD = rating_click_id(1, 0, 100)
ENDED_BY_ALICE = ConversationState(
    session_no=1,
    recent_sessions=[EndedSession(session_no=1, servicer_userid="alice", ended_at=T0 - timedelta(minutes=1))],
)
SURVEYED_BY_ALICE = ConversationState(  # its ending carried the survey (a servicer served it)
    session_no=1,
    recent_sessions=[
        EndedSession(
            session_no=1, servicer_userid="alice", ended_at=T0 - timedelta(minutes=1), ending_sent=True
        )
    ],
)
PENDING_POOL = Transition(target_state=2, session_no=1, at=T0 - timedelta(seconds=5))


@dataclass
class Row:
    given: ConversationState
    inbound: Inbound
    expect: list[tuple[Any, ...]]
    state: dict[str, Any] = field(default_factory=dict)
    account: AccountSettings = DEFAULT
    servicers: list[ServicerLoad] = field(default_factory=lambda: SERVICERS)


ROWS = {
    # --- AI first ---------------------------------------------------------------------------
    "ai_first: a new customer gets one AI answer; the session starts and the API owns it": Row(
        ConversationState(),
        text(ai=answer()),
        [("send", "ai_answer")],
        {"wecom_state": 1, "owner": "ai", "session_no": 1, "sends_since_customer_message": 1},
    ),
    "ai_first: a keyword transfers at once to the first on-duty servicer, no AI answer": Row(
        mirror(1), text("我要转人工"), [("transfer", 3, "alice")], {"wecom_state": 1}
    ),
    "ai_first: the default keywords take how customers ask for a person: 我要人工": Row(
        mirror(1), text("你好，我要人工"), [("transfer", 3, "alice")], {"wecom_state": 1}
    ),
    "ai_first: the default keywords take 人工服务": Row(
        mirror(1), text("有没有人工服务"), [("transfer", 3, "alice")]
    ),
    "ai_first: the default keywords take 真人客服": Row(
        mirror(1), text("能找个真人客服吗"), [("transfer", 3, "alice")]
    ),
    "ai_first: keywords match after folding case and full width": Row(
        mirror(1), text("ｖｉｐ客服在吗"), [("transfer", 3, "alice")], account=VIP_KEYWORD
    ),
    "ai_first: keyword transfer off → the AI answers the keyword": Row(
        mirror(1), text("转人工", ai=answer()), [("send", "ai_answer")], account=NO_KEYWORDS
    ),
    "ai_first: the transfer button click transfers": Row(
        mirror(1), text("转人工", menu_id="kefu_transfer"), [("transfer", 3, "alice")]
    ),
    "ai_first: a servicer at the cap is skipped": Row(
        mirror(1), text("转人工"), [("transfer", 3, "bob")], servicers=ALICE_FULL
    ),
    "ai_first: nobody on duty → the pool": Row(
        mirror(1), text("转人工"), [("transfer", 2, None)], servicers=NOBODY
    ),
    "ai_first: a not-sure answer is sent (with the button when it is on)": Row(
        mirror(1), text(ai=answer("不知道", not_sure=True)), [("send", "not_sure")], {"not_sure_streak": 1}
    ),
    "ai_first: a sure answer resets the not-sure streak": Row(
        mirror(1, not_sure_streak=1), text(ai=answer()), [("send", "ai_answer")], {"not_sure_streak": 0}
    ),
    "ai_first: the AI failed in the shell → the not-sure text": Row(
        mirror(1), text(ai=None), [("send", "not_sure")], {"not_sure_streak": 1}
    ),
    "ai_first: a non-text message gets the non-text reply": Row(
        mirror(1), image(), [("send", "non_text_reply")]
    ),
    "ai_first: non-text reply mode none → nothing": Row(mirror(1), image(), [], account=NON_TEXT_SILENT),
    # --- AI only ----------------------------------------------------------------------------
    "ai_only: keywords are ignored, the AI answers": Row(
        mirror(1), text("转人工", ai=answer()), [("send", "ai_answer")], account=AI_ONLY
    ),
    "ai_only: a transfer click is just text for the AI": Row(
        mirror(1),
        text("转人工", menu_id="kefu_transfer", ai=answer()),
        [("send", "ai_answer")],
        account=AI_ONLY,
    ),
    "ai_only: non-text gets the non-text reply": Row(
        mirror(1), image(), [("send", "non_text_reply")], account=AI_ONLY
    ),
    # --- human only -------------------------------------------------------------------------
    "human_only: the first message → transfer, no AI": Row(
        ConversationState(), text("你好"), [("transfer", 3, "alice")], {"wecom_state": 0}, account=HUMAN_ONLY
    ),
    "human_only: non-text routes like text": Row(
        ConversationState(), image(), [("transfer", 3, "alice")], account=HUMAN_ONLY
    ),
    "human_only: nobody on duty → the pool": Row(
        ConversationState(), text("你好"), [("transfer", 2, None)], account=HUMAN_ONLY, servicers=NOBODY
    ),
    # --- the pool or a human holds the session ----------------------------------------------
    "queued (2): stored and shown, never answered": Row(mirror(2), text(ai=answer()), [], {"wecom_state": 2}),
    "human (3): stored and shown, never answered": Row(mirror(3), text(ai=answer()), [], {"wecom_state": 3}),
    "human (3): a keyword does not transfer again": Row(mirror(3), text("转人工"), []),
    "human (3): non-text is not answered": Row(mirror(3), image(), []),
    "a transfer on its way: the next message waits with it": Row(
        mirror(1, pending_transition=PENDING_POOL), text("在吗", ai=answer()), []
    ),
    # --- disabled account -------------------------------------------------------------------
    "disabled: the paused message once per session": Row(
        ConversationState(), text("你好"), [("send", "paused")], {"paused_notified": True}, account=DISABLED
    ),
    "disabled: already told this session → nothing": Row(
        mirror(1, paused_notified=True), text("你好"), [], account=DISABLED
    ),
    "disabled: a keyword does not route": Row(
        mirror(1, paused_notified=True), text("转人工"), [], account=DISABLED
    ),
    "disabled: paused mode none → nothing at all": Row(
        ConversationState(), text("你好"), [], account=DISABLED_SILENT
    ),
    # --- ratings ----------------------------------------------------------------------------
    "rating: recorded against the session and its servicer, thanked, session rating-only": Row(
        ENDED_BY_ALICE,
        text("满意", menu_id=RATE_GOOD, ai=answer()),
        [("rating", 1, 100, "alice"), ("send", "rating_thanks")],
        {"session_no": 2, "session_kind": "rating_only", "wecom_state": 1, "rated_sessions": [1]},
        account=SURVEY,
    ),
    "rating typed instead of tapped: one of the survey's labels right after it counts as the tap": Row(
        SURVEYED_BY_ALICE,
        text("不满意！", ai=answer()),
        [("rating", 1, 0, "alice"), ("send", "rating_thanks")],
        {"session_no": 2, "session_kind": "rating_only", "rated_sessions": [1]},
        account=SURVEY,
    ),
    "rating typed: not a label (满意吗), the AI answers as ever": Row(
        SURVEYED_BY_ALICE, text("满意吗", ai=answer()), [("send", "ai_answer")], account=SURVEY
    ),
    "rating typed: a session whose ending carried no survey (nobody served it) has nothing to rate": Row(
        SURVEYED_BY_ALICE.model_copy(
            update={
                "recent_sessions": [SURVEYED_BY_ALICE.recent_sessions[0].model_copy(update={"served": False})]
            }
        ),
        text("满意", ai=answer()),
        [("send", "ai_answer")],
        account=SURVEY,
    ),
    "rating typed: once rated, a label typed is only a message": Row(
        SURVEYED_BY_ALICE.model_copy(update={"rated_sessions": [1]}),
        text("满意", ai=answer()),
        [("send", "ai_answer")],
        account=SURVEY,
    ),
    "rating typed: after the customer wrote on in a new session, a label is only a message": Row(
        mirror(1, session_no=2, recent_sessions=SURVEYED_BY_ALICE.recent_sessions),
        text("满意", ai=answer()),
        [("send", "ai_answer")],
        account=SURVEY,
    ),
    "rating: the first rating wins": Row(
        ENDED_BY_ALICE.model_copy(update={"rated_sessions": [1]}),
        text("不满意", menu_id=rating_click_id(1, 1, 0)),
        [],
        account=SURVEY,
    ),
    "rating: human only never routes a rating": Row(
        ENDED_BY_ALICE,
        text("满意", menu_id=RATE_GOOD),
        [("rating", 1, 100, "alice"), ("send", "rating_thanks")],
        account=HUMAN_ONLY,
    ),
    "rating: AI only records and thanks, no AI": Row(
        ENDED_BY_ALICE,
        text("满意", menu_id=RATE_GOOD, ai=answer()),
        [("rating", 1, 100, "alice"), ("send", "rating_thanks")],
        account=AI_ONLY,
    ),
    "rating: a disabled account keeps the rating, says only the paused message": Row(
        ENDED_BY_ALICE,
        text("满意", menu_id=RATE_GOOD),
        [("rating", 1, 100, "alice"), ("send", "paused")],
        account=DISABLED,
    ),
    "rating then a question: the session becomes a normal one": Row(
        mirror(1, session_kind="rating_only", rated_sessions=[0]),
        text(ai=answer()),
        [("send", "ai_answer")],
        {"session_kind": "normal"},
    ),
    # --- sessions, the window and the quota -------------------------------------------------
    "state 4 + a message → a new session; per-session flags and the counter reset": Row(
        ConversationState(
            session_no=4,
            off_hours_notified=True,
            paused_notified=True,
            not_sure_streak=3,
            sends_since_customer_message=5,
        ),
        text(ai=answer()),
        [("send", "ai_answer")],
        {
            "session_no": 5,
            "session_started_at": T0,
            "off_hours_notified": False,
            "paused_notified": False,
            "not_sure_streak": 0,
            "sends_since_customer_message": 1,
        },
    ),
    "each customer message resets the 5-send counter and the 48 h window": Row(
        mirror(1, at=T0 - timedelta(hours=47), sends_since_customer_message=5),
        text(ai=answer()),
        [("send", "ai_answer")],
        {"sends_since_customer_message": 1, "last_customer_message_at": T0, "session_no": 1},
    ),
    "a session past its 48 h life has ended: the message starts a new one": Row(
        mirror(1, at=T0 - timedelta(hours=49)),
        text(ai=answer()),
        [("send", "ai_answer")],
        {"session_no": 2, "session_started_at": T0, "wecom_state": 1},
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_customer_message(row: Row) -> None:
    decision = run(row.given, row.inbound, row.account, row.servicers)
    assert summaries(decision) == row.expect
    check_state(decision.state, row.state)
    # The shell asks the AI exactly when decide will use the answer.
    answered = any(s[:2] in (("send", "ai_answer"), ("send", "not_sure")) for s in row.expect)
    assert wants_ai_answer(row.given, row.inbound, row.account, T0) is answered


def test_answer_with_button_is_one_menu_fitted_to_1024_bytes() -> None:
    long_answer = "第一句话说明退货流程。" * 60  # ~1,800 bytes
    send = only_send(run(mirror(1), text(ai=answer(long_answer))))
    assert isinstance(send.content, Menu)
    assert isinstance(send.content.head, Text)
    head = send.content.head.text
    assert len(head.encode()) <= 1024 and head.endswith("。")
    assert [(c.id, c.label) for c in send.content.choices] == [("kefu_transfer", "转人工")]


def test_answer_without_button_is_one_text_fitted_to_2048_bytes() -> None:
    long_answer = "第二句话。" * 200  # 3,000 bytes
    send = only_send(run(mirror(1), text(ai=answer(long_answer)), NO_BUTTON))
    assert isinstance(send.content, Text)
    assert len(send.content.text.encode()) <= 2048


def test_button_text_comes_from_the_settings() -> None:
    account = settings(reception={"button_transfer": {"text": "找真人"}})
    send = only_send(run(mirror(1), text(ai=answer()), account))
    assert isinstance(send.content, Menu) and send.content.choices[0].label == "找真人"


@pytest.mark.parametrize(
    ("streak_before", "button_on", "streak_setting", "mode", "offered"),
    [
        (0, False, {"enabled": True, "count": 2}, "ai_first", False),  # first not-sure: no button
        (1, False, {"enabled": True, "count": 2}, "ai_first", True),  # twice running: offered anyway
        (1, False, {"enabled": False, "count": 2}, "ai_first", False),  # streak option off
        (2, False, {"enabled": True, "count": 3}, "ai_first", True),  # the configured count
        (0, True, {"enabled": True, "count": 2}, "ai_first", True),  # button on: always there
        (5, False, {"enabled": True, "count": 2}, "ai_only", False),  # AI only never offers it
        (5, True, {"enabled": True, "count": 2}, "ai_only", False),
    ],
)
def test_not_sure_streak_offers_the_button(
    streak_before: int, button_on: bool, streak_setting: dict[str, Any], mode: str, offered: bool
) -> None:
    account = settings(
        reception={"mode": mode, "button_transfer": {"enabled": button_on}, "not_sure_streak": streak_setting}
    )
    decision = run(mirror(1, not_sure_streak=streak_before), text(ai=answer("？", not_sure=True)), account)
    send = only_send(decision)
    assert send.purpose == "not_sure"
    assert isinstance(send.content, Menu) is offered
    assert decision.state.not_sure_streak == streak_before + 1


def test_ai_answer_given_when_not_wanted_is_ignored() -> None:
    """An answer the shell passes anyway (for a keyword) never goes out."""
    decision = run(mirror(1), text("转人工", ai=answer()))
    assert summaries(decision) == [("transfer", 3, "alice")]


def test_rating_of_an_unknown_session_is_recorded_without_servicer() -> None:
    decision = run(ConversationState(session_no=30), text("满意", menu_id=rating_click_id(7, 0, 100)), SURVEY)
    assert summaries(decision) == [("rating", 7, 100, None), ("send", "rating_thanks")]
    assert decision.state.rated_sessions == [7]


def test_a_message_processed_after_its_session_expired_is_not_answered() -> None:
    """Written at 47:59 of the session, processed at 48:01: WeCom has ended it, a send would fail."""
    given = mirror(1, at=T0 - timedelta(hours=48))
    inbound = text(at=T0 - timedelta(minutes=1), ai=answer())
    decision = run(given, inbound, now=T0 + timedelta(minutes=1))
    assert summaries(decision) == []
    assert decision.state.wecom_state == 4
    assert not wants_ai_answer(given, inbound, DEFAULT, T0 + timedelta(minutes=1))


def test_a_rating_click_never_calls_the_ai() -> None:
    for mode in ("ai_first", "ai_only", "human_only"):
        account = settings(reception={"mode": mode}, messages=MESSAGES_ON)
        assert not wants_ai_answer(ENDED_BY_ALICE, text("满意", menu_id=RATE_GOOD), account, T0)


@pytest.mark.parametrize(
    ("state", "inbound", "account", "reason"),
    [
        (mirror(1), text("我要转人工"), DEFAULT, "keyword"),
        (mirror(1), text("转人工", menu_id="kefu_transfer"), DEFAULT, "button"),
        # the button clicked while the not-sure streak had reached its count: the streak offered it
        (mirror(1, not_sure_streak=2), text("转人工", menu_id="kefu_transfer"), DEFAULT, "not_sure_streak"),
        (mirror(1, not_sure_streak=1), text("转人工", menu_id="kefu_transfer"), DEFAULT, "button"),
        (mirror(1), text("你好"), HUMAN_ONLY, "human_only"),
        (mirror(1), image(), HUMAN_ONLY, "human_only"),
    ],
)
def test_the_transfer_says_what_asked_for_a_human(
    state: ConversationState, inbound: Inbound, account: AccountSettings, reason: str
) -> None:
    """Kept on the transfer's timeline note and routing decision, for reports' transfer reasons."""
    decision = run(state, inbound, account)
    [note] = [entry for entry in decision.timeline if entry.kind == "transfer_requested"]
    assert note.detail["reason"] == reason


def test_catching_up_on_a_backlog_answers_the_latest_five_within_wecoms_quota() -> None:
    """Eight questions pulled at once (Kefu was down): WeCom counts every answer against the
    newest of them, so only five answers fit. Kefu answers the last five, in order, and its
    counter never says there is room WeCom would refuse (95001)."""
    sent_at = [T0 + timedelta(seconds=n) for n in range(8)]
    newest = Backlog(newer=0, newest_msgid="m7", newest_at=sent_at[-1])
    state, answered = mirror(1, at=T0 - timedelta(minutes=5)), []
    for n, at in enumerate(sent_at):
        backlog = newest.model_copy(update={"newer": 7 - n}) if n < 7 else None
        inbound = text(f"问题{n}", at=at, msgid=f"m{n}", ai=answer()).model_copy(update={"backlog": backlog})
        assert wants_ai_answer(state, inbound, DEFAULT, sent_at[-1]) is (n >= 3)
        decision = run(state, inbound, now=sent_at[-1])
        state = decision.state
        if summaries(decision):
            answered.append(n)
        assert state.sends_since_customer_message <= 5
        assert state.last_customer_message_at == sent_at[-1] and state.quota_msgid == "m7"
    assert answered == [3, 4, 5, 6, 7]
    assert state.sends_since_customer_message == 5


def test_a_backlog_within_the_quota_is_answered_in_full() -> None:
    """Two quick messages pulled together: both answered, counted from the newer one."""
    first = text("怎么退货", msgid="m1", ai=answer()).model_copy(
        update={"backlog": Backlog(newer=1, newest_msgid="m2", newest_at=T0 + timedelta(seconds=1))}
    )
    second = text("多久到账", at=T0 + timedelta(seconds=1), msgid="m2", ai=answer())
    state, actions = run_all(mirror(1), [first, second], now=T0 + timedelta(seconds=1))
    assert [action[:2] for action in actions] == [("send", "ai_answer"), ("send", "ai_answer")]
    assert state.sends_since_customer_message == 2 and state.quota_msgid == "m2"
