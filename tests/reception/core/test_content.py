"""Content rendering, click ids, keywords, settings conversion and the state's JSON round trip."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from kefu.ai.settings import AISettings
from kefu.config.schema import Account
from kefu.hours import HoursSettings
from kefu.reception.core import (
    INBOUND_ADAPTER,
    AccountSettings,
    ConversationState,
    CustomerText,
    EndedSession,
    Menu,
    MenuChoice,
    Phrase,
    Text,
    TransferDone,
    decide,
    hours_settings,
    matches_keyword,
    parse_rating,
    phrases_of,
    rating_click_id,
    to_outbound,
)
from kefu.reception.core.state import EventCode, Transition
from kefu.wecom.payloads import MenuOut, TextOut

from .helpers import DEFAULT, T0, answer, settings

# --- rendering -------------------------------------------------------------------------------


def test_text_renders_as_is() -> None:
    assert to_outbound(Text(text="你好")) == TextOut(content="你好")


def test_phrase_takes_its_rendering() -> None:
    phrase = Phrase(intent="welcome", mode="ai", fixed_text="欢迎")
    assert phrases_of(phrase) == [phrase]
    assert to_outbound(phrase, ["您好，欢迎！"]) == TextOut(content="您好，欢迎！")
    with pytest.raises(ValueError, match="not rendered"):
        to_outbound(phrase)


def test_menu_renders_head_then_tail_with_its_choices() -> None:
    menu = Menu(
        head=Phrase(intent="ending", mode="fixed", fixed_text="结束了"),
        choices=[MenuChoice(id="kefu_rate:1:0:100", label="满意")],
        tail=Text(text="欢迎再来"),
    )
    assert [p.intent for p in phrases_of(menu)] == ["ending"]
    out = to_outbound(menu, ["结束了"])
    assert isinstance(out, MenuOut)
    assert out.to_body() == {
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "结束了",
            "list": [{"type": "click", "click": {"id": "kefu_rate:1:0:100", "content": "满意"}}],
            "tail_content": "欢迎再来",
        },
    }


def test_a_menus_prompt_is_the_heads_last_line_above_the_choices() -> None:
    menu = Menu(
        head=Phrase(intent="ending", mode="ai"),
        prompt=Phrase(intent="survey", mode="ai"),
        choices=[MenuChoice(id="kefu_rate:1:0:100", label="满意")],
    )
    assert [p.intent for p in phrases_of(menu)] == ["ending", "survey"]
    out = to_outbound(menu, ["结束了", "请评价："])
    assert isinstance(out, MenuOut)
    assert (out.head_content, out.tail_content) == ("结束了\n请评价：", None)
    alone = to_outbound(Menu(prompt=Phrase(intent="survey", mode="ai"), choices=menu.choices), ["请评价："])
    assert isinstance(alone, MenuOut) and alone.head_content == "请评价："


def test_rendered_phrases_are_fitted_to_wecoms_limits() -> None:
    long = "很长的一句话。" * 200  # 4,200 bytes
    assert len(to_outbound(Phrase(intent="ending", mode="ai"), [long]).content.encode()) <= 2048  # type: ignore[union-attr]
    menu = Menu(head=Phrase(intent="ending", mode="ai"), choices=[MenuChoice(id="a", label="b")])
    out = to_outbound(menu, [long])
    assert isinstance(out, MenuOut) and out.head_content is not None
    assert len(out.head_content.encode()) <= 1024
    # With a prompt, the prompt stays whole and the head's text gets the bytes it leaves.
    both = Menu(head=menu.head, prompt=Phrase(intent="survey", mode="ai"), choices=menu.choices)
    out = to_outbound(both, [long, "请为本次服务评价："])
    assert isinstance(out, MenuOut) and out.head_content is not None
    assert len(out.head_content.encode()) <= 1024
    assert out.head_content.startswith("很长的一句话。")
    assert out.head_content.endswith("。\n请为本次服务评价：")


def test_fixed_phrase_fills_known_placeholders_only() -> None:
    phrase = Phrase(intent="pool_notice", mode="fixed", fixed_text="前面还有 {position} 位 {other}")
    assert phrase.fixed({"position": "2"}) == "前面还有 2 位 {other}"


def test_click_items_respect_wecoms_byte_limits() -> None:
    with pytest.raises(ValidationError):
        MenuChoice(id="x" * 65, label="ok")
    with pytest.raises(ValidationError):
        MenuChoice(id="ok", label="字" * 43)  # 129 bytes


# --- ids and keywords ------------------------------------------------------------------------


def test_rating_ids_round_trip_and_stay_short() -> None:
    click_id = rating_click_id(123456789012, 9, 100)
    assert len(click_id.encode()) <= 64
    click = parse_rating(click_id)
    assert click is not None and (click.session_no, click.option, click.score) == (123456789012, 9, 100)
    for other in (None, "", "kefu_transfer", "kefu_rate:1:0", "kefu_rate:a:0:1", "101"):
        assert parse_rating(other) is None


@pytest.mark.parametrize(
    ("message", "keywords", "hit"),
    [
        ("我要转人工！", ["转人工"], "转人工"),
        ("ＶＩＰ服务", ["vip"], "vip"),  # full width and case folded
        ("Vip", ["ＶＩＰ"], "ＶＩＰ"),
        ("人 工", ["人工"], None),  # contains-match, not fuzzy
        ("hello", ["  "], None),  # a blank keyword never matches
    ],
)
def test_keyword_matching(message: str, keywords: list[str], hit: str | None) -> None:
    assert matches_keyword(message, keywords) == hit


# --- settings --------------------------------------------------------------------------------


def test_settings_from_config_reuse_the_config_models() -> None:
    account = Account.model_validate(
        {
            "connection": "main",
            "open_kfid": "wk1",
            "enabled": False,
            "timezone": "Europe/Berlin",
            "reception": {"mode": "ai_only"},
            "hours": {"weekly": {"sat": ["10:00-12:00"]}, "off_hours_message": {"mode": "ai"}},
            "session": {"ai_idle_timeout_minutes": 30},
        }
    )
    result = AccountSettings.from_config(account, AISettings(not_sure_text="不太确定"))
    assert result.reception is account.reception
    assert result.session.ai_idle_timeout_minutes == 30
    assert (result.enabled, result.timezone, result.not_sure_text) == (False, "Europe/Berlin", "不太确定")
    assert isinstance(result.hours, HoursSettings)
    assert result.hours.off_hours_message.mode == "ai"
    assert [str(p) for p in result.hours.weekly.sat] == ["10:00-12:00"]
    assert result.calendar.tz.key == "Europe/Berlin"


def test_hours_conversion_accepts_either_model_and_keeps_fixed_texts() -> None:
    # The config file's `hours:` is HoursSettings itself now; a dict of it converts the same way.
    config_hours = {"off_hours_message": {"mode": "fixed", "text": "休息中"}}
    converted = hours_settings(config_hours)
    assert converted.off_hours_message.text == "休息中"
    assert hours_settings(converted) is converted
    assert AccountSettings(hours=config_hours).hours == converted


def test_decide_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(ConversationState(), TransferDone(target_state=2), DEFAULT, [], datetime(2026, 1, 1))


# --- JSON ------------------------------------------------------------------------------------


def test_state_json_round_trip_with_every_field_set() -> None:
    state = ConversationState(
        wecom_state=3,
        owner="servicer",
        servicer_userid="alice",
        session_no=7,
        session_started_at=T0,
        session_kind="rating_only",
        last_customer_message_at=T0,
        sends_since_customer_message=2,
        window_refused=True,
        last_activity_at=T0,
        codes=[
            EventCode(
                code="C", kind="taken", issued_in_state=3, session_no=7, expires_at=T0 + timedelta(hours=48)
            )
        ],
        off_hours_notified=True,
        paused_notified=True,
        waiting_for_opening=True,
        not_sure_streak=2,
        pool_notice_sent=True,
        taken_notice_sent=True,
        refused_servicers=["bob"],
        pending_transition=Transition(target_state=4, session_no=7, at=T0),
        last_transition=Transition(target_state=3, servicer_userid="alice", session_no=7, at=T0),
        recent_sessions=[EndedSession(session_no=6, servicer_userid="bob", ended_at=T0, ending_sent=True)],
        rated_sessions=[5, 6],
    )
    assert ConversationState.from_json(state.to_json()) == state
    assert ConversationState.from_json(ConversationState().to_json()) == ConversationState()


def test_inbounds_round_trip_through_json() -> None:
    inbound = CustomerText(msgid="m1", text="hi", sent_at=T0, ai_answer=answer())
    assert INBOUND_ADAPTER.validate_json(INBOUND_ADAPTER.dump_json(inbound)) == inbound


def test_settings_helper_builds_valid_accounts() -> None:
    assert settings(reception={"mode": "human_only"}).reception.mode == "human_only"


def test_settings_round_trip_through_json() -> None:
    account = settings(
        hours={"off_hours_message": {"mode": "fixed", "text": "休息"}, "closed_dates": ["2026-12-01"]}
    )
    again = AccountSettings.model_validate_json(account.model_dump_json())
    assert again == account
    assert again.calendar.is_open(T0) == account.calendar.is_open(T0)
