"""Small talk through decide(): the AI's reply for the kind goes out as plain text — never the
not-sure text, never a transfer button, never the off-hours message — and the not-sure streak
is left as it was (neither counted nor reset)."""

from __future__ import annotations

from kefu.ai import Answer
from kefu.reception.core import ConversationState, Text, wants_ai_answer

from .helpers import EVENING, T0, answer, mirror, only_send, run, run_all, settings, summaries, text

STREAK_ONLY = settings(
    reception={"button_transfer": {"enabled": False}, "not_sure_streak": {"enabled": True, "count": 2}}
)
OFF_HOURS = settings(hours={"off_hours_message": {"mode": "fixed", "text": "现在下班了"}})


def small_talk(kind: str = "greeting", reply: str = "您好，请问有什么可以帮您？") -> Answer:
    return Answer(text=reply, confidence=0.0, entry=None, not_sure=False, small_talk=kind)  # type: ignore[arg-type]


def test_a_greeting_gets_its_reply_as_plain_text_even_with_the_button_on() -> None:
    decision = run(mirror(1), text("你好", ai=small_talk()))
    send = only_send(decision)
    assert send.purpose == "small_talk"
    assert send.content == Text(text="您好，请问有什么可以帮您？")
    assert [n.detail for n in decision.timeline if n.kind == "small_talk"] == [
        {"small_talk": "greeting", "replied": True}
    ]
    assert wants_ai_answer(mirror(1), text("你好"), settings(), T0)  # the AI tells small talk apart


def test_small_talk_neither_counts_toward_nor_resets_the_not_sure_streak() -> None:
    for streak in (0, 1):
        decision = run(
            mirror(1, not_sure_streak=streak), text("谢谢", ai=small_talk("thanks", "不客气")), STREAK_ONLY
        )
        assert decision.state.not_sure_streak == streak
        assert isinstance(only_send(decision).content, Text)


def test_thanks_twice_then_a_question_the_ai_cannot_answer_twice_offers_the_button_at_the_second() -> None:
    thanks = small_talk("thanks", "不客气")
    state, actions = run_all(
        mirror(1),
        [
            text("谢谢", ai=thanks, msgid="m1"),
            text("谢谢", ai=thanks, msgid="m2"),
            text("股票代码是多少", ai=answer("不确定", not_sure=True), msgid="m3"),
            text("好的", ai=small_talk("acknowledgement", ""), msgid="m4"),
            text("老板是谁", ai=answer("不确定", not_sure=True), msgid="m5"),
        ],
        STREAK_ONLY,
    )
    assert actions == [
        ("send", "small_talk"),
        ("send", "small_talk"),
        ("send", "not_sure"),
        ("send", "not_sure"),  # "好的" got no reply, and did not reset the streak
    ]
    assert state.not_sure_streak == 2


def test_an_empty_reply_sends_nothing() -> None:
    decision = run(mirror(1, not_sure_streak=1), text("好的", ai=small_talk("acknowledgement", "  ")))
    assert summaries(decision) == []
    assert decision.state.not_sure_streak == 1
    assert [n.detail for n in decision.timeline if n.kind == "small_talk"] == [
        {"small_talk": "acknowledgement", "replied": False}
    ]


def test_an_acknowledgement_opening_a_session_gets_nothing_and_the_session_waits_as_wecom_has_it() -> None:
    decision = run(ConversationState(), text("好的", ai=small_talk("acknowledgement", "")))
    assert summaries(decision) == []
    assert (decision.state.session_no, decision.state.wecom_state) == (1, 0)


def test_off_hours_a_greeting_is_answered_not_replaced_by_the_off_hours_message() -> None:
    decision = run(mirror(1, at=EVENING), text("你好", at=EVENING, ai=small_talk()), OFF_HOURS)
    assert summaries(decision) == [("send", "small_talk")]
    assert not decision.state.off_hours_notified and decision.state.leaving_message is None
    # and the off-hours message is still there for the first question the AI cannot answer
    later = run(decision.state, text("老板是谁", at=EVENING, ai=answer("不确定", not_sure=True)), OFF_HOURS)
    assert summaries(later) == [("send", "not_sure")] and later.state.off_hours_notified


def test_ai_only_replies_to_small_talk_too() -> None:
    decision = run(
        mirror(1), text("再见", ai=small_talk("goodbye", "再见！")), settings(reception={"mode": "ai_only"})
    )
    send = only_send(decision)
    assert (send.purpose, send.content) == ("small_talk", Text(text="再见！"))
