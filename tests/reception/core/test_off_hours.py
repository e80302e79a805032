"""Off hours: the off-hours message once per session, no transfer, waiting for opening, holidays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kefu.reception.core import (
    AccountSettings,
    ConversationState,
    Inbound,
    OpeningReached,
    Phrase,
    next_opening_check,
    wants_ai_answer,
)

from .helpers import (
    ADJUSTED_SATURDAY,
    EVENING,
    NATIONAL_DAY,
    NEXT_MORNING,
    answer,
    check_state,
    image,
    mirror,
    only_send,
    run,
    settings,
    summaries,
    text,
)

OFF_FIXED = {"off_hours_message": {"mode": "fixed", "text": "现在下班了"}}
FIXED = settings(hours=OFF_FIXED)
AI_PHRASED = settings(hours={"off_hours_message": {"mode": "ai"}})
SILENT = settings(hours={"off_hours_message": {"mode": "none"}})
NO_WAITING = settings(hours={**OFF_FIXED, "wait_for_opening": False})
HUMAN_ONLY = settings(hours=OFF_FIXED, reception={"mode": "human_only"})
AI_ONLY = settings(hours=OFF_FIXED, reception={"mode": "ai_only"})
DISABLED = settings(hours=OFF_FIXED, enabled=False)

E = EVENING - timedelta(minutes=1)  # the session's start, in the evening
WAITING = mirror(1, at=E, off_hours_notified=True, waiting_for_opening=True)


@dataclass
class Row:
    given: ConversationState
    inbound: Inbound
    account: AccountSettings
    expect: list[tuple[Any, ...]]
    state: dict[str, Any] = field(default_factory=dict)
    now: datetime | None = None


ROWS = {
    "a keyword off hours: the off-hours message, no transfer, no AI; waits for opening": Row(
        mirror(1, at=E),
        text("转人工", at=EVENING, ai=answer()),
        FIXED,
        [("send", "off_hours")],
        {"off_hours_notified": True, "waiting_for_opening": True, "pending_transition": None},
    ),
    "the button click off hours: the same": Row(
        mirror(1, at=E), text("转人工", at=EVENING, menu_id="kefu_transfer"), FIXED, [("send", "off_hours")]
    ),
    "asking again the same session: nothing (once per session), still no AI": Row(
        WAITING, text("人工客服", at=EVENING, ai=answer()), FIXED, [], {"waiting_for_opening": True}
    ),
    "asking again with a question beside the keyword: the AI answers the question, the wait stays": Row(
        WAITING,
        text("人工客服什么时候上班", at=EVENING, ai=answer()),
        FIXED,
        [("send", "ai_answer")],
        {"waiting_for_opening": True},
    ),
    "the first request off hours, with a question beside it: the off-hours message, not the AI": Row(
        mirror(1, at=E), text("人工客服什么时候上班", at=EVENING, ai=answer()), FIXED, [("send", "off_hours")]
    ),
    "told off hours after a not-sure answer, then asking with a question: it waits and gets the answer": Row(
        mirror(1, at=E, off_hours_notified=True, leaving_message="off_hours"),
        text("我要人工，冰箱坏了", at=EVENING, ai=answer()),
        FIXED,
        [("send", "ai_answer")],
        {"waiting_for_opening": True},
    ),
    "a later question off hours: AI first goes on answering": Row(
        WAITING, text("营业时间？", at=EVENING, ai=answer()), FIXED, [("send", "ai_answer")]
    ),
    "off-hours mode none: nothing is sent, the customer still waits": Row(
        mirror(1, at=E), text("转人工", at=EVENING), SILENT, [], {"waiting_for_opening": True}
    ),
    "wait_for_opening off: told once, not queued for the morning": Row(
        mirror(1, at=E),
        text("转人工", at=EVENING),
        NO_WAITING,
        [("send", "off_hours")],
        {"waiting_for_opening": False},
    ),
    "human only off hours: the first message gets the off-hours message, no transfer": Row(
        ConversationState(),
        text("你好", at=EVENING),
        HUMAN_ONLY,
        [("send", "off_hours")],
        {"waiting_for_opening": True},
    ),
    "human only off hours: later messages get nothing": Row(
        mirror(1, at=E, off_hours_notified=True, waiting_for_opening=True), image(at=EVENING), HUMAN_ONLY, []
    ),
    "AI only has no transfers, so no off-hours message": Row(
        mirror(1, at=E), text("转人工", at=EVENING, ai=answer()), AI_ONLY, [("send", "ai_answer")]
    ),
    "a statutory holiday (2026-10-01, a Thursday) is off hours": Row(
        mirror(1, at=NATIONAL_DAY), text("转人工", at=NATIONAL_DAY), FIXED, [("send", "off_hours")]
    ),
    "an adjusted working Saturday (2026-10-10) is open": Row(
        mirror(1, at=ADJUSTED_SATURDAY),
        text("转人工", at=ADJUSTED_SATURDAY),
        FIXED,
        [("transfer", 3, "alice")],
    ),
    # --- closing time leaves queued and human sessions alone ---------------------------------
    "closing time: a queued customer's message is stored, nothing else": Row(
        mirror(2, at=E), text("还要等多久", at=EVENING), FIXED, [], {"wecom_state": 2}
    ),
    "closing time: a human session goes on": Row(
        mirror(3, at=E), text("好的", at=EVENING), FIXED, [], {"wecom_state": 3, "servicer_userid": "alice"}
    ),
    # --- the opening ------------------------------------------------------------------------
    "opening reached: the waiting customer is routed": Row(
        WAITING,
        OpeningReached(),
        FIXED,
        [("transfer", 3, "alice")],
        {"waiting_for_opening": False},
        NEXT_MORNING,
    ),
    "opening reached but the timer came early: keep waiting": Row(
        WAITING,
        OpeningReached(),
        FIXED,
        [],
        {"waiting_for_opening": True},
        NEXT_MORNING - timedelta(minutes=5),
    ),
    "opening reached after the WeCom session ran out (48 h): nobody is routed": Row(
        WAITING,
        OpeningReached(),
        FIXED,
        [],
        {"waiting_for_opening": False, "wecom_state": 4},
        datetime(2026, 11, 30, 1, 0, tzinfo=UTC),  # Monday 09:00, days later
    ),
    "opening reached, but a servicer took them meanwhile": Row(
        mirror(3, at=E, waiting_for_opening=True),
        OpeningReached(),
        FIXED,
        [],
        {"waiting_for_opening": False},
        NEXT_MORNING,
    ),
    "opening reached in a disabled account: no routing": Row(
        WAITING, OpeningReached(), DISABLED, [], {"waiting_for_opening": False}, NEXT_MORNING
    ),
    "opening reached with no one waiting: nothing": Row(
        mirror(1, at=E), OpeningReached(), FIXED, [], {}, NEXT_MORNING
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_off_hours(row: Row) -> None:
    decision = run(row.given, row.inbound, row.account, now=row.now)
    assert summaries(decision) == row.expect
    check_state(decision.state, row.state)
    answered = ("send", "ai_answer") in row.expect
    now = row.now or getattr(row.inbound, "sent_at", None) or EVENING
    assert wants_ai_answer(row.given, row.inbound, row.account, now) is answered


def test_off_hours_message_carries_the_schedule_and_the_next_opening() -> None:
    send = only_send(run(mirror(1, at=E), text("转人工", at=EVENING), AI_PHRASED))
    phrase = send.content
    assert isinstance(phrase, Phrase)
    assert (phrase.intent, phrase.mode) == ("off_hours", "ai")
    assert phrase.facts == {"hours": "工作日 09:00-18:00（法定节假日除外）", "next_opening": "明天 09:00"}
    assert phrase.fixed_text  # the meaning AI phrasing keeps


def test_fixed_off_hours_text_is_used_as_written() -> None:
    phrase = only_send(run(mirror(1, at=E), text("转人工", at=EVENING), FIXED)).content
    assert isinstance(phrase, Phrase) and phrase.mode == "fixed" and phrase.fixed() == "现在下班了"


def test_a_new_session_may_be_told_again() -> None:
    ended = ConversationState(session_no=1, off_hours_notified=True)
    decision = run(ended, text("转人工", at=EVENING), FIXED)
    assert summaries(decision) == [("send", "off_hours")]
    assert decision.state.session_no == 2


def test_next_opening_check_only_while_waiting() -> None:
    assert next_opening_check(WAITING, FIXED, EVENING) == NEXT_MORNING
    assert next_opening_check(mirror(1, at=E), FIXED, EVENING) is None


def test_a_leaving_begun_off_hours_ends_when_reception_opens() -> None:
    """What a customer writes once reception is open is not a 留言: they can ask for a human
    now (review: an off-hours not-sure reply left every later message in the 留言 list)."""
    left = mirror(1, at=EVENING, leaving_message="off_hours", off_hours_notified=True)
    evening = run(left, text("还有一个问题", at=EVENING + timedelta(minutes=5), ai=answer()))
    assert [a.kind for a in evening.actions].count("record_follow_up") == 1
    morning = run(left, text("还有一个问题", at=NEXT_MORNING, ai=answer()))
    assert "record_follow_up" not in [a.kind for a in morning.actions]
    assert morning.state.leaving_message is None
