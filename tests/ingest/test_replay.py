"""Replays, stale timestamps and over-long fields on the callback endpoint, through the real ASGI
app with real encryption; Kefu's clock (rt.clock) is moved to play with time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from kefu.app import create_app
from kefu.db import Database
from kefu.ingest.models import CallbackEvent
from kefu.jobs.models import Job
from kefu.runtime import Runtime
from tests.factories import ConnectionKeys, kf_event_xml, make_account, make_connection, signed_callback

pytestmark = pytest.mark.db
IN_2001 = "1000000000"  # 2001-09-09


def client_of(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test")  # type: ignore[arg-type]


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(create_app(runtime=rt, run_worker=False)) as c:
        yield c


async def _count(rt: Runtime, model: type) -> int:
    async with rt.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _post(client: httpx.AsyncClient, connection_id: int, signed: tuple[dict, bytes]) -> httpx.Response:
    params, body = signed
    return await client.post(f"/wecom/callback/{connection_id}", params=params, content=body)


async def _connected(rt: Runtime) -> tuple[int, ConnectionKeys, str]:
    connection, keys = await make_connection(rt)
    account = await make_account(rt, connection)
    return connection.id, keys, account.open_kfid


async def test_a_replayed_callback_is_answered_and_stored_once(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection_id, keys, open_kfid = await _connected(rt)
    signed = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), clock=rt.clock)
    for _ in range(5):
        response = await _post(client, connection_id, signed)
        assert response.status_code == 200 and response.text == "success"
    assert await _count(rt, CallbackEvent) == 1
    async with rt.db.read() as session:
        assert [job.task for job in (await session.scalars(select(Job))).all()] == ["ingest.sync"]
    # another nonce is another request, even with the same content
    other = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), clock=rt.clock, nonce="42")
    assert (await _post(client, connection_id, other)).status_code == 200
    assert await _count(rt, CallbackEvent) == 2


async def test_replays_arriving_together_store_one_row(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection_id, keys, open_kfid = await _connected(rt)
    signed = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), clock=rt.clock)
    auth_change = (
        f"<xml><ToUserName>{keys.corp_id}</ToUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType>event</MsgType><Event>kf_account_auth_change</Event>"
        "<AuthAddOpenKfId>wkAdded</AuthAddOpenKfId></xml>"
    )
    other = signed_callback(keys.crypto(), auth_change, clock=rt.clock)
    responses = await asyncio.gather(*[_post(client, connection_id, s) for s in [signed, other] * 4])
    assert [r.status_code for r in responses] == [200] * 8
    assert await _count(rt, CallbackEvent) == 2


async def test_a_replay_is_recognised_after_a_restart_and_by_another_process(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    """The replay keys live in the database: a new app with its own engine (as after a restart,
    or in a second `kefu serve`) knows them; two of them racing store one row."""
    connection_id, keys, open_kfid = await _connected(rt)
    first = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), clock=rt.clock)
    assert (await _post(client, connection_id, first)).status_code == 200
    other_db = Database(rt.settings.database_url)
    other_rt = Runtime(settings=rt.settings, db=other_db, clock=rt.clock, secrets=rt.secrets)
    try:
        async with client_of(create_app(runtime=other_rt, run_worker=False)) as restarted:
            response = await _post(restarted, connection_id, first)
            assert response.status_code == 200 and response.text == "success"
            assert await _count(rt, CallbackEvent) == 1

            racing = signed_callback(
                keys.crypto(), kf_event_xml(keys.corp_id, open_kfid, "ENCr"), clock=rt.clock
            )
            answers = await asyncio.gather(
                *[_post(c, connection_id, racing) for c in (client, restarted, client, restarted)]
            )
            assert [a.status_code for a in answers] == [200] * 4
            assert await _count(rt, CallbackEvent) == 2
    finally:
        await other_rt.http.aclose()
        await other_db.dispose()


async def test_a_timestamp_from_2001_is_refused_with_403_and_counted(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection_id, keys, open_kfid = await _connected(rt)
    old = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), timestamp=IN_2001)
    response = await _post(client, connection_id, old)
    assert response.status_code == 403 and response.text == "stale timestamp"
    assert await _count(rt, CallbackEvent) == 0 and await _count(rt, Job) == 0
    health = (await client.get("/healthz")).json()
    assert health == {"status": "ok", "stale_callbacks_refused": 1}


async def test_the_window_is_measured_on_kefus_clock_both_ways(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection_id, keys, open_kfid = await _connected(rt)
    window = rt.settings.callback_timestamp_window_s
    assert window == 3600  # the documented default
    now = int(rt.clock.timestamp())

    def at(timestamp: int, token: str) -> tuple[dict, bytes]:
        xml = kf_event_xml(keys.corp_id, open_kfid, token)
        return signed_callback(keys.crypto(), xml, timestamp=str(timestamp))

    assert (await _post(client, connection_id, at(now - window, "ENCedge1"))).status_code == 200
    assert (await _post(client, connection_id, at(now + window, "ENCedge2"))).status_code == 200
    assert (await _post(client, connection_id, at(now - window - 1, "ENCold"))).status_code == 403
    assert (await _post(client, connection_id, at(now + window + 1, "ENCfuture"))).status_code == 403
    # a request signed now is stale once Kefu's clock has moved past the window
    later = at(now, "ENClater")
    rt.clock.advance(window + 1)
    assert (await _post(client, connection_id, later)).status_code == 403
    assert (await client.get("/healthz")).json()["stale_callbacks_refused"] == 3
    assert await _count(rt, CallbackEvent) == 2


async def test_the_window_is_a_setting(rt: Runtime) -> None:
    rt.settings = rt.settings.model_copy(update={"callback_timestamp_window_s": 60})
    connection_id, keys, open_kfid = await _connected(rt)
    signed = signed_callback(
        keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), timestamp=str(int(rt.clock.timestamp()) - 61)
    )
    async with client_of(create_app(runtime=rt, run_worker=False)) as client:
        assert (await _post(client, connection_id, signed)).status_code == 403


async def test_url_verification_with_an_old_timestamp_is_403(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection_id, keys, _ = await _connected(rt)
    crypto = keys.crypto()
    echostr = crypto.encrypt("42")
    params = {
        "msg_signature": crypto.sign(IN_2001, "1", echostr),
        "timestamp": IN_2001,
        "nonce": "1",
        "echostr": echostr,
    }
    assert (await client.get(f"/wecom/callback/{connection_id}", params=params)).status_code == 403


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("OpenKfId", "wk" + "A" * 39_998),  # the probe's 40,000 characters
        ("OpenKfId", "wk" + "A" * 63),  # one byte past WeCom's 64
        ("OpenKfId", "客服" * 11),  # 22 characters, 66 bytes in UTF-8
        ("Token", "ENC" + "A" * 126),  # one byte past WeCom's 128
    ],
)
async def test_an_over_long_field_is_refused_with_400(
    rt: Runtime, client: httpx.AsyncClient, tag: str, value: str
) -> None:
    connection_id, keys, open_kfid = await _connected(rt)
    if tag == "OpenKfId":
        xml = kf_event_xml(keys.corp_id, value)
    else:
        xml = kf_event_xml(keys.corp_id, open_kfid, value)
    response = await _post(client, connection_id, signed_callback(keys.crypto(), xml, clock=rt.clock))
    assert response.status_code == 400 and response.text == f"{tag} too long"
    assert await _count(rt, CallbackEvent) == 0 and await _count(rt, Job) == 0


async def test_fields_at_wecoms_limits_are_accepted(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection_id, keys, _ = await _connected(rt)
    xml = kf_event_xml(keys.corp_id, "wk" + "A" * 62, "ENC" + "A" * 125)
    assert (
        await _post(client, connection_id, signed_callback(keys.crypto(), xml, clock=rt.clock))
    ).status_code == 200
    assert await _count(rt, CallbackEvent) == 1


async def test_an_over_long_id_in_an_auth_change_is_400(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection_id, keys, _ = await _connected(rt)
    xml = (
        f"<xml><ToUserName>{keys.corp_id}</ToUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType>event</MsgType><Event>kf_account_auth_change</Event>"
        f"<AuthAddOpenKfId>wkShort,wk{'A' * 63}</AuthAddOpenKfId></xml>"
    )
    response = await _post(client, connection_id, signed_callback(keys.crypto(), xml, clock=rt.clock))
    assert response.status_code == 400
    assert await _count(rt, CallbackEvent) == 0


async def test_malformed_or_over_long_query_parameters_are_400(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection_id, keys, open_kfid = await _connected(rt)
    xml = kf_event_xml(keys.corp_id, open_kfid)
    long_nonce = signed_callback(keys.crypto(), xml, clock=rt.clock, nonce="1" * 65)  # correctly signed
    assert (await _post(client, connection_id, long_nonce)).status_code == 400
    params, body = signed_callback(keys.crypto(), xml, clock=rt.clock)
    for bad in (
        {"msg_signature": params["msg_signature"] + "0"},
        {"timestamp": "not-a-number"},
        {"timestamp": "9" * 30},
        {"timestamp": ""},
    ):
        response = await _post(client, connection_id, ({**params, **bad}, body))
        assert response.status_code == 400, bad
    without = {k: v for k, v in params.items() if k != "timestamp"}
    assert (await _post(client, connection_id, (without, body))).status_code == 400
    assert await _count(rt, CallbackEvent) == 0


async def test_a_replay_with_the_signature_in_capitals_is_still_a_replay(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    """The signature check ignores case, so the replay key must too: otherwise the same signed
    request with its hex digits in capitals (2^k spellings) stores the event again each time."""
    connection_id, keys, open_kfid = await _connected(rt)
    params, body = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, open_kfid), clock=rt.clock)
    assert (await _post(client, connection_id, (params, body))).status_code == 200
    shouted = {**params, "msg_signature": params["msg_signature"].upper()}
    response = await _post(client, connection_id, (shouted, body))
    assert response.status_code == 200 and response.text == "success"
    assert await _count(rt, CallbackEvent) == 1
