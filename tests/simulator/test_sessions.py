"""§11.6 the session state machine (service_state/get|trans) and §11.9 the servicer's
actions in the WeCom app, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import Kf, assert_error


def state(kf: Kf, customer: str | None = None) -> dict:
    body = {"open_kfid": kf.open_kfid, "external_userid": customer or kf.customer}
    return kf.post("kf/service_state/get", body)


def test_starts_at_4_and_customer_message_moves_to_0(kf: Kf) -> None:
    """§11.6: a customer with no session reads 4; a customer message in 4 → 0."""
    assert state(kf)["service_state"] == 4
    kf.enter()
    assert state(kf)["service_state"] == 4  # entering alone starts nothing
    kf.say("hi")
    assert state(kf) == {"errcode": 0, "errmsg": "ok", "service_state": 0}


def test_documented_moves_and_msg_codes(kf: Kf) -> None:
    """§11.6: 0→1→2→3→3(transfer)→4; msg_code on the first entry into 2 and 3, and on 4."""
    kf.say("hi")
    assert "msg_code" not in kf.trans(1)
    pool = kf.trans(2)
    assert pool["errcode"] == 0 and pool["msg_code"]
    taken = kf.trans(3, "zhangsan")
    assert taken["errcode"] == 0 and taken["msg_code"]
    assert state(kf) == {"errcode": 0, "errmsg": "ok", "service_state": 3, "servicer_userid": "zhangsan"}
    transfer = kf.trans(3, "lisi")
    assert transfer["errcode"] == 0 and "msg_code" not in transfer  # not the first entry into 3
    ending = kf.trans(4)
    assert ending["errcode"] == 0 and ending["msg_code"]
    history = [(h["from_state"], h["to_state"], h["by"]) for h in kf.session()["history"]]
    assert history == [
        (4, 0, "customer"),
        (0, 1, "api"),
        (1, 2, "api"),
        (2, 3, "api"),
        (3, 3, "api"),
        (3, 4, "api"),
    ]


def test_no_event_for_api_moves(kf: Kf) -> None:
    """§4.4 (UNCONFIRMED, implied): trans does not push session_status_change."""
    kf.say("hi")
    kf.trans(3, "zhangsan")
    kf.trans(4)
    assert [m["msgtype"] for m in kf.sync()["msg_list"]] == ["text"]


@pytest.mark.parametrize(
    ("path", "target", "errcode"),
    [
        ((), 0, 95016),  # 0 → 0: back to 0 is never allowed
        ((1,), 0, 95016),
        ((2,), 1, 95016),  # 2 → 1
        ((3,), 2, 95016),  # 3 → 2
        ((3,), 1, 95016),
        ((3, 4), 3, 95013),  # from 4: session already ended
        ((3, 4), 0, 95013),
    ],
)
def test_refused_moves(kf: Kf, path: tuple[int, ...], target: int, errcode: int) -> None:
    """§11.6: moves outside §7.4 → 95016; any move from 4 → 95013."""
    kf.say("hi")
    for step in path:
        assert kf.trans(step, "zhangsan" if step == 3 else "")["errcode"] == 0
    assert_error(kf.trans(target, "zhangsan" if target == 3 else ""), errcode)


@pytest.mark.parametrize(("start", "target"), [((), 4), ((1,), 4), ((2,), 4), ((1,), 1), ((2,), 2)])
def test_unconfirmed_moves_follow_the_switch(
    kf: Kf, simulator: SimulatorServer, start: tuple[int, ...], target: int
) -> None:
    """§11.6: 0/1/2 → 4 and 1→1, 2→2 are allowed by default and refused (95016) when switched off."""
    kf.say("hi")
    for step in start:
        kf.trans(step)
    simulator.control("PATCH", "settings", {"allow_unconfirmed_moves": False})
    assert_error(kf.trans(target), 95016)
    simulator.control("PATCH", "settings", {"allow_unconfirmed_moves": True})
    answer = kf.trans(target)
    assert answer["errcode"] == 0
    assert bool(answer.get("msg_code")) == (target == 4)  # same-state moves issue no new code


def test_same_servicer_transfer_refused(kf: Kf) -> None:
    """§7.4: 3 → 3 is a transfer to another servicer; the same one → 95016."""
    kf.say("hi")
    kf.trans(3, "zhangsan")
    assert_error(kf.trans(3, "zhangsan"), 95016)


def test_target_3_servicer_checks(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.6: target 3 needs a listed (95014), activated (95014), 接待中 (95019) servicer; none → 40058."""
    kf.say("hi")
    assert_error(kf.trans(3), 40058)
    assert_error(kf.trans(3, "nobody"), 95014)
    simulator.control("POST", f"corps/{kf.corpid}/members", {"userid": "wangwu"})
    assert_error(kf.trans(3, "wangwu"), 95014)  # a member, but not in the reception list
    simulator.control("PATCH", f"corps/{kf.corpid}/members/lisi", {"activated": False})
    assert_error(kf.trans(3, "lisi"), 95014)
    simulator.control("POST", f"corps/{kf.corpid}/members/zhangsan/reception", {"status": 2, "stop_type": 1})
    assert_error(kf.trans(3, "zhangsan"), 95019)
    simulator.control("POST", f"corps/{kf.corpid}/members/zhangsan/reception", {"status": 1})
    assert kf.trans(3, "zhangsan")["errcode"] == 0


def test_department_servicers_qualify(kf: Kf, simulator: SimulatorServer) -> None:
    """§8.3: a member of a listed department is a receptionist."""
    simulator.control("POST", f"corps/{kf.corpid}/members", {"userid": "zhaoliu", "department_ids": [7]})
    assert kf.post("kf/servicer/add", {"open_kfid": kf.open_kfid, "department_id_list": [7]})["errcode"] == 0
    kf.say("hi")
    assert kf.trans(3, "zhaoliu")["errcode"] == 0


def test_invalid_target_and_unknown_customer(kf: Kf) -> None:
    """§7.5: a target outside 0..4 → 40058; unknown external_userid → 40096."""
    kf.say("hi")
    assert_error(kf.trans(7), 40058)
    assert_error(kf.trans(1, customer="wmnobody"), 40096)
    assert_error(state(kf, "wmnobody"), 40096)


def test_session_expires_after_48_hours(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.6: a session lasts at most 48 h, then reads 4; the next customer message starts a new one."""
    kf.say("hi")
    kf.trans(1)
    simulator.clock.advance(48 * 3600 - 1)
    assert state(kf)["service_state"] == 1
    simulator.clock.advance(1)
    assert state(kf)["service_state"] == 4
    kf.say("again")
    assert state(kf)["service_state"] == 0
    assert [h["by"] for h in kf.session()["history"]][-2:] == ["expiry", "customer"]


# -- §11.9: the servicer in the WeCom app ---------------------------------------------


def test_take_from_pool_change_type_1_with_msg_code(kf: Kf) -> None:
    """§11.9: take (2 → 3): session_status_change change_type 1 with new_servicer_userid and msg_code."""
    kf.say("hi")
    kf.trans(2)
    item = kf.act("take", {"servicer_userid": "zhangsan"})
    event = item["event"]
    assert item["origin"] == 4 and event["event_type"] == "session_status_change"
    assert event["change_type"] == 1 and event["new_servicer_userid"] == "zhangsan" and event["msg_code"]
    assert event["external_userid"] == kf.customer and event["open_kfid"] == kf.open_kfid
    assert state(kf)["servicer_userid"] == "zhangsan"


def test_transfer_end_retake(kf: Kf) -> None:
    """§11.9: transfer (2, old+new), end (3, msg_code, → 4), re-take (4, old+new, → 3)."""
    kf.say("hi")
    kf.trans(3, "zhangsan")
    transfer = kf.act("transfer", {"servicer_userid": "zhangsan", "to_servicer_userid": "lisi"})["event"]
    assert (transfer["change_type"], transfer["old_servicer_userid"], transfer["new_servicer_userid"]) == (
        2,
        "zhangsan",
        "lisi",
    )
    assert "msg_code" not in transfer
    retake_transferred = kf.act("retake", {"servicer_userid": "zhangsan"})["event"]
    assert retake_transferred["change_type"] == 4 and retake_transferred["old_servicer_userid"] == "lisi"
    end = kf.act("end", {"servicer_userid": "zhangsan"})["event"]
    assert end["change_type"] == 3 and end["old_servicer_userid"] == "zhangsan" and end["msg_code"]
    assert state(kf)["service_state"] == 4
    retake = kf.act("retake", {"servicer_userid": "lisi"})["event"]
    assert (retake["change_type"], retake["old_servicer_userid"], retake["new_servicer_userid"]) == (
        4,
        "zhangsan",
        "lisi",
    )
    assert state(kf)["service_state"] == 3
    events = [m["event"]["change_type"] for m in kf.sync()["msg_list"] if m["msgtype"] == "event"]
    assert events == [2, 4, 3, 4]


def test_servicer_actions_need_the_right_state(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.9: the WeCom app only allows take from the pool, end/transfer of one's own session."""
    kf.say("hi")
    with pytest.raises(httpx.HTTPStatusError):
        kf.act("take", {"servicer_userid": "zhangsan"})  # not in the pool
    kf.trans(3, "zhangsan")
    with pytest.raises(httpx.HTTPStatusError):
        kf.act("end", {"servicer_userid": "lisi"})  # not lisi's session


def test_servicer_reply_and_recall(kf: Kf) -> None:
    """§11.9: a reply from the WeCom app is origin 5; recall pushes servicer_recall_msg."""
    kf.say("hi")
    kf.trans(3, "zhangsan")
    reply = kf.act("reply", {"servicer_userid": "zhangsan", "msgtype": "text", "text": {"content": "在的"}})
    assert reply["origin"] == 5 and reply["servicer_userid"] == "zhangsan"
    assert [m["body"] for m in kf.inbox()] == [{"content": "在的"}]
    recall = kf.act("recall", {"servicer_userid": "zhangsan", "msgid": reply["msgid"]})["event"]
    assert recall == {
        "event_type": "servicer_recall_msg",
        "open_kfid": kf.open_kfid,
        "external_userid": kf.customer,
        "recall_msgid": reply["msgid"],
        "servicer_userid": "zhangsan",
    }
    assert kf.inbox()[0]["recalled"] is True


def test_reception_toggle_event_and_list_encodings(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.9: servicer_status_change uses 1/2 (+stop_type); servicer/list shows 0/1."""
    items = simulator.control(
        "POST", f"corps/{kf.corpid}/members/lisi/reception", {"status": 2, "stop_type": 1}
    )["items"]
    assert [i["event"] for i in items] == [
        {
            "event_type": "servicer_status_change",
            "open_kfid": kf.open_kfid,
            "servicer_userid": "lisi",
            "status": 2,
            "stop_type": 1,
        }
    ]
    listing = kf.get("kf/servicer/list", open_kfid=kf.open_kfid)["servicer_list"]
    assert listing == [{"userid": "zhangsan", "status": 0}, {"userid": "lisi", "status": 1, "stop_type": 1}]
    back = simulator.control("POST", f"corps/{kf.corpid}/members/lisi/reception", {"status": 1})["items"]
    assert back[0]["event"]["status"] == 1 and "stop_type" not in back[0]["event"]
    assert kf.get("kf/servicer/list", open_kfid=kf.open_kfid)["servicer_list"][1] == {
        "userid": "lisi",
        "status": 0,
    }


def test_reject_customer_then_sends_fail_with_fail_type_10(kf: Kf) -> None:
    """§11.9: reject_customer_msg_switch_change; later API sends answer 0 but fail (fail_type 10)."""
    kf.say("hi")
    event = kf.act("reject", {"servicer_userid": "zhangsan", "reject": True})["event"]
    assert event["event_type"] == "reject_customer_msg_switch_change" and event["reject_switch"] == 1
    sent = kf.send_text("您好")
    assert sent["errcode"] == 0
    fail = kf.sync()["msg_list"][-1]["event"]
    assert fail == {
        "event_type": "msg_send_fail",
        "open_kfid": kf.open_kfid,
        "external_userid": kf.customer,
        "fail_msgid": sent["msgid"],
        "fail_type": 10,
    }
    assert kf.inbox() == []
    assert kf.act("reject", {"servicer_userid": "zhangsan", "reject": False})["event"]["reject_switch"] == 0
    assert kf.send_text("再试")["errcode"] == 0 and len(kf.inbox()) == 1
