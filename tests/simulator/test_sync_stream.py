"""§11.4 the pull stream, §11.5 visibility, §11.12 ids — sync_msg over real HTTP."""

from __future__ import annotations

import re

from kefu.simulator import SimulatorServer, people
from tests.simulator.helpers import Kf, assert_error


def test_stream_is_oldest_first_with_opaque_cursor(kf: Kf) -> None:
    """§11.4: items after the cursor, oldest first; next_cursor ≤ 64 bytes; has_more 0 at the end."""
    sent = [kf.say(f"m{i}")["msgid"] for i in range(3)]
    page = kf.sync()
    assert page["errcode"] == 0 and page["has_more"] == 0
    assert [m["msgid"] for m in page["msg_list"]] == sent
    assert 0 < len(page["next_cursor"].encode()) <= 64
    assert kf.sync(page["next_cursor"])["msg_list"] == []
    later = kf.say("m3")["msgid"]
    assert [m["msgid"] for m in kf.sync(page["next_cursor"])["msg_list"]] == [later]


def test_limit_and_has_more(kf: Kf) -> None:
    """§11.4: at most `limit` per page, has_more 1 until caught up."""
    sent = [kf.say(f"m{i}")["msgid"] for i in range(5)]
    first = kf.sync(limit=2)
    assert len(first["msg_list"]) == 2 and first["has_more"] == 1
    second = kf.sync(first["next_cursor"], limit=2)
    third = kf.sync(second["next_cursor"], limit=2)
    assert third["has_more"] == 0
    got = first["msg_list"] + second["msg_list"] + third["msg_list"]
    assert [m["msgid"] for m in got] == sent


def test_limit_is_capped_at_1000(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.4: at most min(limit, 1000) items come back."""
    kf.say("first")
    # 1000 more items through the control API would be slow over HTTP; append in-process.
    world = simulator.state
    with world.lock:
        account = world.accounts[kf.open_kfid]
        customer = world.customers[kf.customer]
        for i in range(1000):
            people.customer_message(world, account, customer, "text", {"content": f"bulk {i}"})
    page = kf.sync(limit=5000)
    assert len(page["msg_list"]) == 1000 and page["has_more"] == 1
    assert len(kf.sync(page["next_cursor"])["msg_list"]) == 1


def test_old_cursor_replays_same_items(kf: Kf) -> None:
    """§11.4: re-using an old cursor (or none) replays the same items with the same msgids."""
    kf.say("a")
    kf.say("b")
    first = kf.sync()
    kf.say("c")
    again = kf.sync()
    assert again["msg_list"][:2] == first["msg_list"]
    cursor_after_a = kf.sync(limit=1)["next_cursor"]
    assert kf.sync(cursor_after_a)["msg_list"] == kf.sync(cursor_after_a)["msg_list"]
    assert [m["text"]["content"] for m in kf.sync(cursor_after_a)["msg_list"]] == ["b", "c"]


def test_items_older_than_three_days_are_gone(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.4: empty cursor = start of the retained window; items older than 3 days are gone."""
    old = kf.say("old")["msgid"]
    simulator.clock.advance(2 * 86400)
    newer = kf.say("newer")["msgid"]
    assert [m["msgid"] for m in kf.sync()["msg_list"]] == [old, newer]
    simulator.clock.advance(86400)
    assert [m["msgid"] for m in kf.sync()["msg_list"]] == [newer]


def test_forced_empty_page_with_has_more(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.4: has_more 1 with an empty msg_list happens (fault switch); looping on has_more gets all."""
    sent = [kf.say(f"m{i}")["msgid"] for i in range(2)]
    simulator.control("POST", "faults", {"endpoint": "kf/sync_msg", "empty_page": True, "count": 2})
    page = kf.sync()
    assert page["msg_list"] == [] and page["has_more"] == 1
    items, _cursor = kf.pull_all(page["next_cursor"])
    assert [m["msgid"] for m in items] == sent


def test_empty_page_never_when_nothing_waits(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.4: the empty page with has_more 1 is only served when items are waiting."""
    simulator.control("POST", "faults", {"endpoint": "kf/sync_msg", "empty_page": True})
    assert kf.sync()["has_more"] == 0


def test_open_kfid_required_40058(kf: Kf) -> None:
    """§11.4: open_kfid is required (our errcode for the CONFLICT: 40058)."""
    assert_error(kf.post("kf/sync_msg", {"cursor": ""}), 40058)


def test_bad_cursor_40058(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.4: a forged cursor, a cursor of another account, or one over 64 bytes → 40058."""
    assert_error(kf.sync("not-a-cursor"), 40058)
    assert_error(kf.sync("x" * 65), 40058)
    other = simulator.control("POST", f"corps/{kf.corpid}/accounts", {})["open_kfid"]
    kf.say("a")
    cursor = kf.sync()["next_cursor"]
    assert_error(kf.post("kf/sync_msg", {"open_kfid": other, "cursor": cursor}), 40058)


def test_sync_token_from_callback_valid_10_minutes(
    kf: Kf, simulator: SimulatorServer, receiver_factory
) -> None:
    """§11.4: the callback Token works for 10 minutes; expired or forged → 95007."""
    receiver = receiver_factory(kf.corp)
    kf.say("hello")
    simulator.flush_callbacks()
    token = receiver.posts[-1].field("Token")
    assert token.startswith("ENC") and len(token.encode()) <= 128
    assert kf.sync(token=token)["errcode"] == 0
    simulator.clock.advance(599)
    assert kf.sync(token=token)["errcode"] == 0
    simulator.clock.advance(1)
    assert_error(kf.sync(token=token), 95007)
    assert_error(kf.sync(token="ENCforged"), 95007)
    assert kf.sync()["errcode"] == 0  # no token: allowed (the real server rate-limits it)


def test_customer_servicer_and_event_items_have_doc_shapes(kf: Kf) -> None:
    """§11.5: origin 3 and 5 carry open_kfid/external_userid; events (origin 4) carry them in `event`."""
    kf.enter(scene="s1")
    kf.say("hi")
    kf.trans(3, "zhangsan")
    kf.act("reply", {"servicer_userid": "zhangsan", "msgtype": "text", "text": {"content": "您好"}})
    enter, customer, servicer = kf.sync()["msg_list"]
    assert enter["origin"] == 4 and enter["msgtype"] == "event"
    assert "open_kfid" not in enter and "external_userid" not in enter and "servicer_userid" not in enter
    assert enter["event"]["open_kfid"] == kf.open_kfid and enter["event"]["external_userid"] == kf.customer
    assert set(enter) == {"msgid", "send_time", "origin", "msgtype", "event"}
    assert customer["origin"] == 3 and customer["open_kfid"] == kf.open_kfid
    assert customer["external_userid"] == kf.customer and "servicer_userid" not in customer
    assert customer["text"] == {"content": "hi"}
    assert servicer["origin"] == 5 and servicer["servicer_userid"] == "zhangsan"
    assert servicer["text"] == {"content": "您好"}


def test_send_msg_never_appears_in_stream(kf: Kf) -> None:
    """§11.5: messages sent with send_msg (and send_msg_on_event) are not pulled back."""
    welcome = kf.enter()["event"]["welcome_code"]
    on_event = kf.post(
        "kf/send_msg_on_event", {"code": welcome, "msgtype": "text", "text": {"content": "欢迎"}}
    )
    assert on_event["errcode"] == 0
    kf.say("hi")
    sent = kf.send_text("您好")
    assert sent["errcode"] == 0
    msgids = {m["msgid"] for m in kf.sync()["msg_list"]}
    assert sent["msgid"] not in msgids and on_event["msgid"] not in msgids
    assert len(msgids) == 2  # enter_session + the customer's text


def test_ids_are_opaque_in_real_styles(kf: Kf) -> None:
    """§11.12: wk…, wm…, ENC… tokens, unique msgids ≤ 32 bytes of [0-9a-zA-Z_-]."""
    assert kf.open_kfid.startswith("wk") and len(kf.open_kfid) == 32
    assert kf.customer.startswith("wm")
    msgids = [kf.say(f"m{i}")["msgid"] for i in range(20)]
    assert len(set(msgids)) == 20
    assert all(re.fullmatch(r"[0-9a-zA-Z_-]{1,32}", m) for m in msgids)
