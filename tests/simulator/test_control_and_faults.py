"""The control API's own features: fault injection per endpoint, the clock, reset,
settings, change long-polling, and correctness under concurrent requests."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from kefu.simulator import SimulatorServer
from kefu.simulator.callbacks import shared_ssl_context
from tests.simulator.helpers import Kf, assert_error


def test_next_n_calls_answer_chosen_errcodes(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.1 + faults: the next N calls of one endpoint answer the chosen errcodes in turn."""
    kf.say("hi")
    simulator.control(
        "POST", "faults", {"endpoint": "kf/send_msg", "errcodes": [-1, 45009, 42001], "count": 3}
    )
    answers = [
        kf._post(
            "kf/send_msg",
            {"touser": kf.customer, "open_kfid": kf.open_kfid, "msgtype": "text", "text": {"content": "x"}},
            kf.token,
        )
        for _ in range(4)
    ]
    for answer, errcode in zip(answers, (-1, 45009, 42001), strict=False):
        assert_error(answer, errcode)
    assert answers[3]["errcode"] == 0
    assert kf.post("kf/sync_msg", {"open_kfid": kf.open_kfid})["errcode"] == 0  # other endpoints untouched
    log = kf.sends()["sends"]
    assert [(s["errcode"], s["fault"]) for s in log] == [(-1, True), (45009, True), (42001, True), (0, False)]


def test_fault_rate_is_seeded_and_any_endpoint(kf: Kf, simulator: SimulatorServer) -> None:
    """Faults: a rate applies to a share of calls; "*" matches every endpoint."""
    simulator.control("POST", "faults", {"endpoint": "*", "errcode": -1, "rate": 0.5})
    codes = [kf.post("kf/account/list", {})["errcode"] for _ in range(40)]
    assert 5 < codes.count(-1) < 35 and codes.count(0) == 40 - codes.count(-1)
    simulator.control("DELETE", "faults")
    assert kf.post("kf/account/list", {})["errcode"] == 0


def test_added_latency(kf: Kf, simulator: SimulatorServer) -> None:
    """Faults: latency is added before the answer."""
    simulator.control("POST", "faults", {"endpoint": "kf/account/list", "latency_ms": 300, "count": 1})
    started = time.monotonic()
    assert kf.post("kf/account/list", {})["errcode"] == 0
    assert time.monotonic() - started >= 0.3


def test_dropped_response_after_processing(kf: Kf, simulator: SimulatorServer) -> None:
    """Faults: the call is processed, then the connection closes unanswered (a lost response);
    a retry with the same msgid is refused as a duplicate, so nothing is sent twice."""
    kf.say("hi")
    simulator.control("POST", "faults", {"endpoint": "kf/send_msg", "drop_response": True, "count": 1})
    with pytest.raises(httpx.TransportError):
        kf.send_text("只发一次", msgid="out-1")
    assert_error(kf.send_text("只发一次", msgid="out-1"), 40058)
    assert [m["body"]["content"] for m in kf.inbox()] == ["只发一次"]
    assert [s["errcode"] for s in kf.sends()["sends"]] == [0, 40058]


def test_token_invalidation_every_n_calls(kf: Kf, simulator: SimulatorServer) -> None:
    """Faults: `invalidate_tokens` with `every: N` revokes every current token on each N-th
    call (42001 from then on), as WeCom's early expiry does; a fresh token works again."""
    simulator.control("POST", "faults", {"endpoint": "*", "invalidate_tokens": True, "every": 4})
    codes = [kf._post("kf/account/list", {}, kf.token)["errcode"] for _ in range(4)]
    assert codes == [0, 0, 0, 42001]
    kf.token = kf.gettoken()  # the 5th call (gettoken counts too): a new token
    assert [kf._post("kf/account/list", {}, kf.token)["errcode"] for _ in range(3)] == [0, 0, 42001]


def test_remove_one_fault(kf: Kf, simulator: SimulatorServer) -> None:
    rule = simulator.control("POST", "faults", {"endpoint": "gettoken", "errcode": -1})
    assert simulator.control("GET", "faults")["faults"][0]["id"] == rule["id"]
    assert simulator.control("DELETE", f"faults/{rule['id']}")["faults"] == []


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"endpoint": "callback"},
        {"endpoint": "x", "count": 0},
        {"endpoint": "x", "rate": 2},
        {"endpoint": "x", "every": 0},
    ],
)
def test_bad_fault_specs(simulator: SimulatorServer, spec: dict) -> None:
    with pytest.raises(httpx.HTTPStatusError) as failure:
        simulator.control("POST", "faults", spec)
    assert failure.value.response.status_code == 422


def test_clock_set_and_advance_share_the_clock_object(simulator: SimulatorServer) -> None:
    """Control clock: set/advance move the very Clock the test holds (shared with Kefu)."""
    start = simulator.clock.timestamp()
    assert simulator.control("POST", "clock/advance", {"seconds": 90})["timestamp"] == start + 90
    assert simulator.clock.timestamp() == start + 90
    moved = simulator.control("POST", "clock/set", {"iso": "2027-01-01T00:00:00+00:00"})
    assert moved["iso"].startswith("2027-01-01T00:00:00")
    assert simulator.control("POST", "clock/set", {"timestamp": 1800000000})["timestamp"] == 1800000000


def test_reset_forgets_everything(kf: Kf, simulator: SimulatorServer) -> None:
    kf.say("hi")
    simulator.control("POST", "faults", {"endpoint": "*", "latency_ms": 1})
    simulator.control("PATCH", "settings", {"allow_unconfirmed_moves": False})
    simulator.control("POST", "reset")
    assert simulator.control("GET", "corps") == []
    assert simulator.control("GET", "faults")["faults"] == []
    assert simulator.control("GET", "settings")["allow_unconfirmed_moves"] is True
    assert_error(kf.post("kf/account/list", {}, token=kf.token), 40014)


def test_settings_validation(simulator: SimulatorServer) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        simulator.control("PATCH", "settings", {"no_such_switch": 1})
    assert simulator.control("PATCH", "settings", {"callback_timeout_s": 0.2})["callback_timeout_s"] == 0.2


def test_changes_long_poll(kf: Kf, simulator: SimulatorServer) -> None:
    """Live pages long-poll /changes: it answers at once when the version moved."""
    version = simulator.control("GET", "changes", since=-1, timeout_s=0)["version"]
    assert simulator.control("GET", "changes", since=version, timeout_s=0.05)["version"] == version
    kf.say("hi")
    assert simulator.control("GET", "changes", since=version, timeout_s=5)["version"] > version


def test_reads_sessions_stream_customer(kf: Kf, simulator: SimulatorServer) -> None:
    """Control reads: every session with state and history, the raw stream, the customer."""
    kf.say("hi")
    kf.trans(3, "zhangsan")
    [session] = simulator.control("GET", f"accounts/{kf.open_kfid}/sessions")["sessions"]
    assert session["state"] == 3 and session["servicer_userid"] == "zhangsan" and len(session["history"]) == 2
    stream = simulator.control("GET", f"accounts/{kf.open_kfid}/stream")
    assert stream["count"] == 1 and stream["items"][0]["retained"] is True
    assert simulator.control("GET", f"customers/{kf.customer}")["external_userid"] == kf.customer
    with pytest.raises(httpx.HTTPStatusError):
        simulator.control("GET", "customers/wmnobody/inbox")


def test_session_moves_carry_one_order_across_sessions(kf: Kf, simulator: SimulatorServer) -> None:
    """History entries have whole-second times; `seq` orders every move in the world, so that
    who served how many sessions at once can be replayed from the sessions read."""
    other = kf.new_customer()
    kf.say("hi")
    kf.say("hi", customer=other)
    kf.trans(3, "zhangsan", customer=other)
    kf.trans(3, "zhangsan")
    kf.act("end", {"servicer_userid": "zhangsan"}, customer=other)
    sessions = simulator.control("GET", f"accounts/{kf.open_kfid}/sessions")["sessions"]
    moves = sorted(
        ((h["seq"], s["external_userid"], h["to_state"]) for s in sessions for h in s["history"]),
    )
    assert [(who, to) for _, who, to in moves] == [
        (kf.customer, 0),
        (other, 0),
        (other, 3),
        (kf.customer, 3),
        (other, 4),
    ]
    assert [seq for seq, _, _ in moves] == [1, 2, 3, 4, 5]


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_sends_respect_the_quota_exactly(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.7 under concurrency: 12 parallel sends after one customer message → exactly 5 succeed."""
    kf.say("hi")

    def one(i: int) -> int:
        with httpx.Client(base_url=simulator.url, verify=shared_ssl_context()) as client:
            body = {
                "touser": kf.customer,
                "open_kfid": kf.open_kfid,
                "msgtype": "text",
                "text": {"content": str(i)},
            }
            return client.post("/cgi-bin/kf/send_msg", params={"access_token": kf.token}, json=body).json()[
                "errcode"
            ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(one, range(12)))
    assert sorted(codes) == [0] * 5 + [95001] * 7
    assert len(kf.inbox()) == 5 and kf.sends()["count"] == 12


def test_concurrent_duplicate_msgid_sent_once(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.7 under concurrency: the same msgid sent 8 times in parallel is accepted once."""
    kf.say("hi")

    def one(_i: int) -> int:
        with httpx.Client(base_url=simulator.url, verify=shared_ssl_context()) as client:
            body = {
                "touser": kf.customer,
                "open_kfid": kf.open_kfid,
                "msgtype": "text",
                "msgid": "same-id",
                "text": {"content": "x"},
            }
            return client.post("/cgi-bin/kf/send_msg", params={"access_token": kf.token}, json=body).json()[
                "errcode"
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(one, range(8)))
    assert sorted(codes) == [0] + [40058] * 7
    assert len(kf.inbox()) == 1


def test_concurrent_customers_and_pulls_lose_nothing(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.4 under concurrency: messages written in parallel are all pulled, once, in stream order."""
    customers = [kf.new_customer() for _ in range(4)]

    def write(customer: str) -> list[str]:
        return [kf.say(f"{customer[-4:]}-{i}", customer=customer)["msgid"] for i in range(5)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = [m for batch in pool.map(write, customers) for m in batch]
    items, _cursor = kf.pull_all()
    assert sorted(m["msgid"] for m in items) == sorted(written) and len(items) == 20


def test_transcript_orders_both_sides(kf: Kf, simulator: SimulatorServer) -> None:
    """Control reads: one customer's conversation, both sides in order, with recalls marked."""
    kf.say("hi")
    kf.send_text("机器人回复")
    kf.trans(3, "zhangsan")
    reply = kf.act(
        "reply", {"servicer_userid": "zhangsan", "msgtype": "text", "text": {"content": "人工回复"}}
    )
    kf.act("recall", {"servicer_userid": "zhangsan", "msgid": reply["msgid"]})
    messages = simulator.control("GET", f"accounts/{kf.open_kfid}/sessions/{kf.customer}/transcript")[
        "messages"
    ]
    assert [(m["from"], m["body"].get("content", m["body"].get("event_type"))) for m in messages] == [
        ("customer", "hi"),
        ("api", "机器人回复"),
        ("servicer", "人工回复"),
        ("event", "servicer_recall_msg"),
    ]
    assert messages[2]["recalled"] is True and messages[0]["recalled"] is False
    customers = simulator.control("GET", f"corps/{kf.corpid}/customers")["customers"]
    assert [c["external_userid"] for c in customers] == [kf.customer]
