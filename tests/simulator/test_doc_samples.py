"""The JSON/XML samples of wecom-kf-api.md (tests/fixtures/wecom/) replayed against the
simulator: sample requests are accepted, answers have the samples' fields and JSON types."""

from __future__ import annotations

from typing import Any

import pytest
from defusedxml import ElementTree

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import FIXTURES, Kf, fixture


def conforms(sample: Any, actual: Any, path: str = "$", optional: tuple[str, ...] = ()) -> None:
    """Every field of `sample` is in `actual` with the same JSON type (lists: first elements)."""
    if isinstance(sample, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in sample.items():
            if f"{path}.{key}" in optional and key not in actual:
                continue
            assert key in actual, f"{path}.{key} missing in {actual!r}"
            conforms(value, actual[key], f"{path}.{key}", optional)
    elif isinstance(sample, list):
        assert isinstance(actual, list), f"{path}: expected an array"
        if sample and actual:
            conforms(sample[0], actual[0], f"{path}[0]", optional)
    elif isinstance(sample, bool):
        assert isinstance(actual, bool), f"{path}: expected a boolean, got {actual!r}"
    elif isinstance(sample, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{path}: expected a number"
    else:
        assert isinstance(actual, str), f"{path}: expected a string, got {actual!r}"


def substitute(sample: Any, values: dict[str, str]) -> Any:
    """Swap the doc's placeholder ids (OPEN_KFID, wkxxx…, CODE…) for real ones."""
    if isinstance(sample, dict):
        return {k: substitute(v, values) for k, v in sample.items()}
    if isinstance(sample, list):
        return [substitute(v, values) for v in sample]
    return values.get(sample, sample) if isinstance(sample, str) else sample


def ids(kf: Kf, **extra: str) -> dict[str, str]:
    return {
        "OPEN_KFID": kf.open_kfid,
        "wkxxxxxx": kf.open_kfid,
        "wkxxxxxxxxxxxxxxxxxx": kf.open_kfid,
        "EXTERNAL_USERID": kf.customer,
        "wmxxxxxxxxxxxxxxxxxx": kf.customer,
        "wmxxxxxxxxxxxxxxxxxxxxxx": kf.customer,
        **extra,
    }


def test_gettoken_sample(kf: Kf) -> None:
    """§1.2 sample."""
    answer = kf.http.get(
        "/cgi-bin/gettoken", params={"corpid": kf.corpid, "corpsecret": kf.corp["secret"]}
    ).json()
    conforms(fixture("gettoken.response.json"), answer)


def test_sync_msg_samples(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§3.1 request accepted (with a real cursor and callback token); §3.2 response shape."""
    receiver = receiver_factory(kf.corp)
    kf.say("hi")
    _items, cursor = kf.pull_all()
    menu = {"list": [{"type": "click", "click": {"id": "101", "content": "满意"}}]}
    msgid = kf.post(
        "kf/send_msg",
        {"touser": kf.customer, "open_kfid": kf.open_kfid, "msgtype": "msgmenu", "msgmenu": menu},
    )["msgid"]
    simulator.control(
        "POST",
        f"customers/{kf.customer}/click",
        {"open_kfid": kf.open_kfid, "menu_msgid": msgid, "item_id": "101"},
    )
    simulator.flush_callbacks()
    token = receiver.posts[-1].field("Token")
    request = substitute(fixture("sync_msg.request.json"), ids(kf, **{"4gw7MepFLfgF2VC5npN": cursor}))
    request["token"] = token
    answer = kf.post("kf/sync_msg", request)
    assert answer["errcode"] == 0
    # The doc sample shows servicer_userid on an origin-3 item: a template artefact (§3.4).
    conforms(fixture("sync_msg.response.json"), answer, optional=("$.msg_list[0].servicer_userid",))
    assert answer["msg_list"][0]["text"] == {"content": "满意", "menu_id": "101"}


@pytest.mark.parametrize("path", sorted(p.name for p in FIXTURES.glob("msg.*.json")))
def test_customer_message_samples(kf: Kf, simulator: SimulatorServer, path: str) -> None:
    """§3.5: each message body sample, written by the customer, is pulled back in the same shape."""
    sample = fixture(path)
    simulator.control("POST", f"customers/{kf.customer}/messages", {"open_kfid": kf.open_kfid, **sample})
    [item] = kf.sync()["msg_list"]
    conforms(sample, item)
    assert item["origin"] == 3


def test_event_samples(kf: Kf) -> None:
    """§4.1, §4.4, §4.5 event samples."""
    channels = {"nickname": "视频号名称", "scene": 1}
    kf.enter(scene="123", scene_param="abc", wechat_channels=channels)
    kf.say("hi")
    kf.trans(2)
    kf.act("take", {"servicer_userid": "zhangsan"})
    reply = kf.act("reply", {"servicer_userid": "zhangsan", "msgtype": "text", "text": {"content": "在"}})
    kf.act("recall", {"servicer_userid": "zhangsan", "msgid": reply["msgid"]})
    events = {m["event"]["event_type"]: m for m in kf.sync()["msg_list"] if m["msgtype"] == "event"}
    for name in ("enter_session", "session_status_change", "servicer_recall_msg"):
        conforms(fixture(f"event.{name}.json"), events[name])


def test_send_samples(kf: Kf) -> None:
    """§5.1 / §5.4 request samples accepted; §5.1 response shape."""
    kf.say("hi")
    text = kf.post("kf/send_msg", substitute(fixture("send_msg.text.request.json"), ids(kf)))
    assert text["errcode"] == 0 and text["msgid"] == "MSGID"
    conforms(fixture("send_msg.response.json"), text)
    assert (
        kf.post("kf/send_msg", substitute(fixture("send_msg.msgmenu.request.json"), ids(kf)))["errcode"] == 0
    )


def test_send_msg_on_event_samples(kf: Kf) -> None:
    """§6 request sample accepted with a real welcome code; response shape."""
    code = kf.enter()["event"]["welcome_code"]
    answer = kf.post(
        "kf/send_msg_on_event", substitute(fixture("send_msg_on_event.request.json"), {"CODE": code})
    )
    assert answer["errcode"] == 0 and answer["msgid"] == "MSG_ID"
    conforms(fixture("send_msg_on_event.response.json"), answer)


def test_service_state_samples(kf: Kf) -> None:
    """§7.2 / §7.3 samples."""
    kf.say("hi")
    trans = kf.post(
        "kf/service_state/trans", substitute(fixture("service_state_trans.request.json"), ids(kf))
    )
    conforms(fixture("service_state_trans.response.json"), trans)
    got = kf.post("kf/service_state/get", substitute(fixture("service_state_get.request.json"), ids(kf)))
    conforms(fixture("service_state_get.response.json"), got)
    assert (got["service_state"], got["servicer_userid"]) == (3, "zhangsan")


def test_directory_samples(kf: Kf, simulator: SimulatorServer) -> None:
    """§8.1–§8.4 samples: account/list, add_contact_way, servicer/list, customer/batchget."""
    conforms(fixture("account_list.response.json"), kf.post("kf/account/list", {"offset": 0, "limit": 100}))
    way = kf.post("kf/add_contact_way", substitute(fixture("add_contact_way.request.json"), ids(kf)))
    conforms(fixture("add_contact_way.response.json"), way)
    simulator.control("POST", f"corps/{kf.corpid}/members", {"userid": "wangwu", "department_ids": [2]})
    kf.post("kf/servicer/add", {"open_kfid": kf.open_kfid, "department_id_list": [2]})
    simulator.control("POST", f"corps/{kf.corpid}/members/lisi/reception", {"status": 2})
    listing = kf.get("kf/servicer/list", open_kfid=kf.open_kfid)
    conforms(fixture("servicer_list.response.json"), listing)
    assert [s.get("status") for s in listing["servicer_list"]] == [0, 1, None]
    channels = {"nickname": "进入会话的视频号名称", "shop_nickname": "小店", "scene": 1}
    kf.enter(scene="123", scene_param="abc", wechat_channels=channels)
    answer = kf.post("kf/customer/batchget", substitute(fixture("customer_batchget.request.json"), ids(kf)))
    conforms(fixture("customer_batchget.response.json"), answer)
    assert answer["invalid_external_userid"] == ["zhangsan"]


def test_media_upload_sample(kf: Kf) -> None:
    """§8.7 sample: errmsg "" and created_at as a string."""
    answer = kf.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": kf.token, "type": "image"},
        files={"media": ("a.png", b"\x89PNG" + bytes(40), "image/png")},
    ).json()
    conforms(fixture("media_upload.response.json"), answer)
    assert answer["errmsg"] == ""


def _tags(xml: str) -> set[str]:
    return {child.tag for child in ElementTree.fromstring(xml)}


def test_callback_xml_samples(kf: Kf, simulator: SimulatorServer, receiver_factory) -> None:
    """§2.3 envelope and §2.5 decrypted kf_msg_or_event / kf_account_auth_change have the samples' tags."""
    receiver = receiver_factory(kf.corp)
    kf.say("hi")
    simulator.control("PUT", f"accounts/{kf.open_kfid}/authorization", {"authorized": False})
    simulator.flush_callbacks()
    # Delivered by a pool of threads, in either order (WeCom promises no order either).
    [event] = [p for p in receiver.posts if "kf_msg_or_event" in p.plaintext]
    [auth] = [p for p in receiver.posts if "kf_account_auth_change" in p.plaintext]
    assert _tags(event.envelope) == _tags(fixture("callback_envelope.xml"))
    assert _tags(event.plaintext) == _tags(fixture("kf_msg_or_event.xml"))
    sample_auth = _tags(fixture("kf_account_auth_change.xml"))
    assert _tags(auth.plaintext) == sample_auth - {"AuthAddOpenKfId"}  # real pushes carry one of the two
