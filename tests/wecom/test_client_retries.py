"""The retry policy of each endpoint, against real faults on a real HTTP server.

`Reply(drop=True)`: WeCom processed the request, then the connection closed
before a complete answer — the client cannot know the outcome.
"""

from __future__ import annotations

import pytest

from kefu.wecom.client import WeComClient
from kefu.wecom.errors import SendOutcomeUnknown, StateTransferUnsettled, WeComError, WeComTransportError
from kefu.wecom.outbound import TextOut
from tests.wecom.scripted_server import Reply, ScriptedWeCom, wecom_error

KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
USER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
BUSY = Reply(wecom_error(-1, "system busy"))
LOST = Reply(drop=True)
PAGE = Reply({"errcode": 0, "errmsg": "ok", "next_cursor": "C9", "has_more": 0, "msg_list": []})


# ---- reads ----


async def test_read_retries_busy_at_most_three_times(
    client: WeComClient, wecom: ScriptedWeCom, sleeps: list[float]
) -> None:
    wecom.script("kf/account/list", BUSY, BUSY, BUSY, BUSY)
    with pytest.raises(WeComError) as caught:
        await client.account_list()
    assert caught.value.errcode == -1 and caught.value.hint
    assert len(wecom.calls("kf/account/list")) == 4  # one try + three retries
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff


async def test_read_retries_transport_errors_then_succeeds(
    client: WeComClient, wecom: ScriptedWeCom, sleeps: list[float]
) -> None:
    wecom.script(
        "kf/sync_msg", LOST, Reply(status=502, body=b"Bad Gateway"), Reply(body=b"<html>busy</html>"), PAGE
    )
    page = await client.sync_msg(open_kfid=KFID, cursor="C8", token=None)
    assert page.next_cursor == "C9"
    calls = wecom.calls("kf/sync_msg")
    assert len(calls) == 4 and all(c.json["cursor"] == "C8" for c in calls)
    assert sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("fault", [LOST, BUSY])
async def test_other_reads_retry(client: WeComClient, wecom: ScriptedWeCom, fault: Reply) -> None:
    wecom.script("kf/service_state/get", fault, Reply({"errcode": 0, "errmsg": "ok", "service_state": 1}))
    wecom.script("kf/servicer/list", fault)
    wecom.script("kf/customer/batchget", fault)
    wecom.script("media/get", fault, Reply(body=b"\x89PNG....", headers={"content-type": "image/png"}))
    assert (await client.service_state_get(open_kfid=KFID, external_userid=USER)).state == 1
    assert await client.servicer_list(KFID) == []
    assert (await client.customer_batchget([USER])).customers == []
    assert (await client.media_get("MEDIA")).content == b"\x89PNG...."
    for path in ("kf/service_state/get", "kf/servicer/list", "kf/customer/batchget", "media/get"):
        assert len(wecom.calls(path)) == 2, path


async def test_gettoken_transport_errors_are_retried_there_only(
    client: WeComClient, wecom: ScriptedWeCom, sleeps: list[float]
) -> None:
    wecom.script("gettoken", LOST, LOST, LOST, LOST)
    with pytest.raises(WeComTransportError) as caught:
        await client.account_list()
    assert caught.value.endpoint == "gettoken"
    # Retried three times by gettoken, not once more per retry of the outer read.
    assert len(wecom.calls("gettoken")) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert wecom.calls("kf/account/list") == []


async def test_other_errcodes_are_not_retried(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/sync_msg", Reply(wecom_error(95007, "invalid msgtoken")))
    with pytest.raises(WeComError) as caught:
        await client.sync_msg(open_kfid=KFID, cursor=None, token="ENCexpired")
    assert caught.value.errcode == 95007 and "10 minutes" in (caught.value.hint or "")
    assert len(wecom.calls("kf/sync_msg")) == 1


# ---- writes ----


async def test_idempotent_writes_retry(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/servicer/add", LOST)
    wecom.script("kf/servicer/del", BUSY)
    wecom.script("kf/account/update", LOST)
    await client.servicer_add(KFID, ["zhangsan"])
    await client.servicer_del(KFID, ["zhangsan"])
    await client.account_update(KFID, media_id="MEDIA")
    for path in ("kf/servicer/add", "kf/servicer/del", "kf/account/update"):
        calls = wecom.calls(path)
        assert len(calls) == 2 and calls[0].body == calls[1].body, path


async def test_non_idempotent_writes_never_retry(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/account/add", LOST)
    wecom.script("kf/account/del", LOST)
    wecom.script("kf/add_contact_way", BUSY)
    wecom.script("media/upload", LOST)
    with pytest.raises(WeComTransportError):
        await client.account_add("客服", "MEDIA")
    with pytest.raises(WeComTransportError):
        await client.account_del(KFID)
    with pytest.raises(WeComError):
        await client.add_contact_way(KFID)
    with pytest.raises(WeComTransportError):
        await client.media_upload(
            media_type="image", filename="a.png", content=b"123456", content_type="image/png"
        )
    for path in ("kf/account/add", "kf/account/del", "kf/add_contact_way", "media/upload"):
        assert len(wecom.calls(path)) == 1, path


# ---- send_msg: only ever the caller's msgid ----


def sent_msgids(wecom: ScriptedWeCom) -> list[str]:
    return [c.json["msgid"] for c in wecom.calls("kf/send_msg")]


async def test_send_with_a_lost_response_is_retried_with_the_same_msgid(
    client: WeComClient, wecom: ScriptedWeCom
) -> None:
    wecom.script("kf/send_msg", LOST)  # processed, answer lost; the retry gets the default echo
    msgid = await client.send_msg(
        touser=USER, open_kfid=KFID, msgid="out_42_1", message=TextOut(content="好的")
    )
    assert msgid == "out_42_1"
    assert sent_msgids(wecom) == ["out_42_1", "out_42_1"]
    first, second = wecom.calls("kf/send_msg")
    assert first.json == second.json


async def test_send_lost_then_msgid_already_used_is_outcome_unknown(
    client: WeComClient, wecom: ScriptedWeCom
) -> None:
    # The errcode WeCom gives a reused msgid is undocumented: any errcode after a lost try is ambiguous.
    wecom.script("kf/send_msg", LOST, Reply(wecom_error(40058, "msgid duplicated")))
    with pytest.raises(SendOutcomeUnknown) as caught:
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="out_42_2", message=TextOut(content="好的"))
    assert caught.value.msgid == "out_42_2"
    assert isinstance(caught.value.__cause__, WeComError)
    assert sent_msgids(wecom) == ["out_42_2", "out_42_2"]


async def test_send_lost_every_time_is_outcome_unknown(
    client: WeComClient, wecom: ScriptedWeCom, sleeps: list[float]
) -> None:
    wecom.script("kf/send_msg", LOST, LOST, LOST, LOST, LOST)
    with pytest.raises(SendOutcomeUnknown) as caught:
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="out_42_3", message=TextOut(content="好的"))
    assert caught.value.msgid == "out_42_3"
    assert sent_msgids(wecom) == ["out_42_3"] * 4
    assert sleeps == [0.5, 1.0, 2.0]


async def test_send_busy_retries_with_the_same_msgid(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/send_msg", BUSY, BUSY)
    assert (
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="out_7", message=TextOut(content="x"))
        == "out_7"
    )
    assert sent_msgids(wecom) == ["out_7"] * 3

    wecom.script("kf/send_msg", BUSY, BUSY, BUSY, BUSY)
    with pytest.raises(WeComError) as caught:  # only "busy" answers: nothing was delivered
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="out_8", message=TextOut(content="x"))
    assert caught.value.errcode == -1
    assert sent_msgids(wecom)[3:] == ["out_8"] * 4


async def test_send_refused_is_a_plain_error_with_a_hint(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/send_msg", Reply(wecom_error(95018, "send msg session status invalid")))
    with pytest.raises(WeComError) as caught:
        await client.send_msg(touser=USER, open_kfid=KFID, msgid="out_9", message=TextOut(content="x"))
    assert caught.value.errcode == 95018 and "state" in (caught.value.hint or "")
    assert len(wecom.calls("kf/send_msg")) == 1


async def test_send_after_a_token_expiry_keeps_its_msgid(client: WeComClient, wecom: ScriptedWeCom) -> None:
    await client.get_token()
    wecom.revoke_tokens()
    await client.send_msg(touser=USER, open_kfid=KFID, msgid="out_10", message=TextOut(content="x"))
    assert sent_msgids(wecom) == ["out_10", "out_10"]


# ---- send_msg_on_event: a single-use code is never retried ----


async def test_send_on_event_lost_is_outcome_unknown_without_retry(
    client: WeComClient, wecom: ScriptedWeCom
) -> None:
    wecom.script("kf/send_msg_on_event", LOST)
    with pytest.raises(SendOutcomeUnknown) as caught:
        await client.send_msg_on_event(code="WELCOME", msgid="welcome_1", message=TextOut(content="欢迎"))
    assert caught.value.msgid == "welcome_1"
    assert len(wecom.calls("kf/send_msg_on_event")) == 1


@pytest.mark.parametrize("reply", [BUSY, Reply(wecom_error(95007, "invalid msgtoken"))])
async def test_send_on_event_errcode_is_a_plain_error(
    client: WeComClient, wecom: ScriptedWeCom, reply: Reply
) -> None:
    wecom.script("kf/send_msg_on_event", reply)
    with pytest.raises(WeComError):
        await client.send_msg_on_event(code="WELCOME", msgid="welcome_2", message=TextOut(content="欢迎"))
    assert len(wecom.calls("kf/send_msg_on_event")) == 1


# ---- service_state/trans: settled by service_state/get, never repeated ----


def state(value: int, servicer: str | None = None) -> Reply:
    body = {"errcode": 0, "errmsg": "ok", "service_state": value}
    if servicer:
        body["servicer_userid"] = servicer
    return Reply(body)


async def test_lost_trans_that_took_effect_is_settled(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/service_state/trans", LOST)
    wecom.script("kf/service_state/get", state(3, "zhangsan"))
    result = await client.service_state_trans(
        open_kfid=KFID, external_userid=USER, service_state=3, servicer_userid="zhangsan"
    )
    assert result.settled_by_get is True and result.msg_code is None
    assert len(wecom.calls("kf/service_state/trans")) == 1
    assert len(wecom.calls("kf/service_state/get")) == 1


@pytest.mark.parametrize("observed", [state(2), state(3, "lisi")])
async def test_lost_trans_that_did_not_happen_is_unsettled(
    client: WeComClient, wecom: ScriptedWeCom, observed: Reply
) -> None:
    wecom.script("kf/service_state/trans", LOST)
    wecom.script("kf/service_state/get", observed)
    with pytest.raises(StateTransferUnsettled) as caught:
        await client.service_state_trans(
            open_kfid=KFID, external_userid=USER, service_state=3, servicer_userid="zhangsan"
        )
    assert caught.value.target_state == 3 and caught.value.observed_state == observed.json["service_state"]
    assert len(wecom.calls("kf/service_state/trans")) == 1  # never repeated


async def test_busy_trans_is_settled_by_get_too(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/service_state/trans", BUSY)
    wecom.script("kf/service_state/get", state(4))
    result = await client.service_state_trans(open_kfid=KFID, external_userid=USER, service_state=4)
    assert result.settled_by_get is True
    assert len(wecom.calls("kf/service_state/trans")) == 1


async def test_refused_trans_is_a_plain_error(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("kf/service_state/trans", Reply(wecom_error(95016, "不允许这种状态转移")))
    with pytest.raises(WeComError) as caught:
        await client.service_state_trans(open_kfid=KFID, external_userid=USER, service_state=1)
    assert caught.value.errcode == 95016
    assert wecom.calls("kf/service_state/get") == []
