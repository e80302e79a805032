"""§11.8 event codes and kf/send_msg_on_event, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import Kf, assert_error

MENU = {"head_content": "满意吗?", "list": [{"type": "click", "click": {"id": "1", "content": "满意"}}]}


def on_event(kf: Kf, code: str, msgtype: str = "text", **extra: Any) -> dict[str, Any]:
    body = {"code": code, "msgtype": msgtype, **extra}
    body.setdefault(msgtype, {"content": "您好"} if msgtype == "text" else MENU)
    return kf.post("kf/send_msg_on_event", body)


def test_welcome_code_once_and_within_20_seconds(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.8: welcome valid 20 s, single use (reuse → 95007); msgid echoed; the customer gets it."""
    code = kf.enter()["event"]["welcome_code"]
    simulator.clock.advance(19)
    answer = on_event(kf, code, msgid="welcome-1")
    assert answer == {"errcode": 0, "errmsg": "ok", "msgid": "welcome-1"}
    assert_error(on_event(kf, code), 95007)
    [got] = kf.inbox()
    assert (got["source"], got["code_kind"], got["body"]) == (
        "send_msg_on_event",
        "welcome",
        {"content": "您好"},
    )
    late = kf.enter(customer=kf.new_customer())["event"]["welcome_code"]
    simulator.clock.advance(20)
    assert_error(on_event(kf, late), 95007)


def test_welcome_code_only_without_recent_welcome_or_message(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.8: welcome_code only if in 48 h the customer got no welcome and wrote nothing."""
    code = kf.enter()["event"]["welcome_code"]
    on_event(kf, code)
    assert "welcome_code" not in kf.enter()["event"]  # welcomed within 48 h
    simulator.clock.advance(48 * 3600)
    assert "welcome_code" in kf.enter()["event"]
    other = kf.new_customer()
    kf.say("hi", customer=other)
    assert "welcome_code" not in kf.enter(customer=other)["event"]  # wrote within 48 h


def test_welcome_allows_text_and_menu_not_image(kf: Kf) -> None:
    """§11.8: welcome → text or msgmenu; another type → 40008 (our pick)."""
    code = kf.enter()["event"]["welcome_code"]
    assert_error(on_event(kf, code, "image", image={"media_id": "x"}), 40008)
    assert on_event(kf, code, "msgmenu")["errcode"] == 0


def test_welcome_usable_in_any_state(kf: Kf) -> None:
    """§11.8: the welcome is the exception to "only in the issuing state"."""
    code = kf.enter()["event"]["welcome_code"]
    kf.say("hi")
    kf.trans(3, "zhangsan")
    assert on_event(kf, code)["errcode"] == 0


def test_pool_code_48h_text_only_while_queued(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.8: pool code (trans → 2): valid 48 h, text only, only while still in 2 (else 95018)."""
    kf.say("hi")
    code = kf.trans(2)["msg_code"]
    assert_error(on_event(kf, code, "msgmenu"), 40008)
    simulator.clock.advance(47 * 3600)
    assert on_event(kf, code)["errcode"] == 0
    second = kf.new_customer()
    kf.say("hi", customer=second)
    code2 = kf.trans(2, customer=second)["msg_code"]
    kf.trans(3, "zhangsan", customer=second)
    assert_error(on_event(kf, code2), 95018)


def test_pool_code_expires_after_48h(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.8: a pool code is dead after 48 h (95007)."""
    kf.say("hi")
    code = kf.trans(2)["msg_code"]
    simulator.clock.advance(48 * 3600)
    assert_error(on_event(kf, code), 95007)


def test_taken_code_from_trans_and_from_app(kf: Kf) -> None:
    """§11.8: taken codes (trans → 3, or change_type 1): text only, while still in 3."""
    kf.say("hi")
    code = kf.trans(3, "zhangsan")["msg_code"]
    assert on_event(kf, code)["errcode"] == 0
    other = kf.new_customer()
    kf.say("hi", customer=other)
    kf.trans(2, customer=other)
    app_code = kf.act("take", {"servicer_userid": "lisi"}, customer=other)["event"]["msg_code"]
    kf.trans(4, customer=other)
    assert_error(on_event(kf, app_code), 95018)


def test_ending_code_20s_text_or_menu_only_while_ended(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.8: ending code (trans → 4, change_type 3): 20 s, text or menu, dead once a new session starts."""
    kf.say("hi")
    kf.trans(3, "zhangsan")
    code = kf.act("end", {"servicer_userid": "zhangsan"})["event"]["msg_code"]
    assert on_event(kf, code, "msgmenu")["errcode"] == 0
    kf.say("again")
    code2 = kf.trans(4)["msg_code"]
    simulator.clock.advance(20)
    assert_error(on_event(kf, code2), 95007)
    kf.say("third")
    code3 = kf.trans(4)["msg_code"]
    kf.say("fourth")  # a new session: the ending code's state is gone
    assert_error(on_event(kf, code3), 95018)


@pytest.mark.parametrize("code", ["", "forged-code"])
def test_missing_or_unknown_code(kf: Kf, code: str) -> None:
    """§6: no code → 40058; an unknown code → 95007 (our pick)."""
    assert_error(on_event(kf, code), 40058 if not code else 95007)


def test_code_of_another_corp_95007(kf: Kf, simulator: SimulatorServer) -> None:
    """§6: a code is bound to its corp."""
    code = kf.enter()["event"]["welcome_code"]
    other = Kf(simulator)
    assert_error(on_event(other, code), 95007)
    other.close()


def test_event_sends_are_counted_and_do_not_use_the_quota(kf: Kf) -> None:
    """§11.8: every send_msg_on_event call is in the send log; it does not count against the 5 sends."""
    code = kf.enter()["event"]["welcome_code"]
    on_event(kf, code)
    on_event(kf, code)
    kf.say("hi")
    for _ in range(5):
        assert kf.send_text()["errcode"] == 0
    log = kf.sends(endpoint="kf/send_msg_on_event")
    assert [s["errcode"] for s in log["sends"]] == [0, 95007]
    assert {s["touser"] for s in log["sends"]} == {kf.customer}


def test_event_msgid_shares_the_account_namespace(kf: Kf) -> None:
    """§6: msgid ≤ 32 bytes [0-9a-zA-Z_-], unique within the account (40058)."""
    kf.say("hi")
    kf.send_text(msgid="same")
    code = kf.enter(customer=kf.new_customer())["event"]["welcome_code"]
    assert_error(on_event(kf, code, msgid="same"), 40058)
    assert on_event(kf, code, msgid="other")["errcode"] == 0
