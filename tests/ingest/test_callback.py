"""The callback endpoint through the real ASGI app, with real encryption (wecom-kf-api.md §2)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, text

from kefu.accounts.models import KfAccount
from kefu.app import create_app
from kefu.ingest.models import CallbackEvent
from kefu.jobs.models import Job
from kefu.jobs.worker import Worker
from kefu.runtime import Runtime
from tests.db_faults import refusing
from tests.factories import kf_event_xml, make_account, make_connection, signed_callback

pytestmark = pytest.mark.db

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><Encrypt>&lol4;</Encrypt></xml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>&xxe;</ToUserName><Event>kf_msg_or_event</Event><OpenKfId>wkX</OpenKfId></xml>"""


@pytest.fixture
async def client(rt: Runtime) -> httpx.AsyncClient:
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test") as c:
        yield c


async def _count(rt: Runtime, model: type) -> int:
    async with rt.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_get_verification_answers_plaintext_echostr(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, keys = await make_connection(rt)
    crypto = keys.crypto()
    echostr = crypto.encrypt("1616140317555161061")
    now = str(int(rt.clock.timestamp()))
    params = {
        "msg_signature": crypto.sign(now, "263014780", echostr),
        "timestamp": now,
        "nonce": "263014780",
        "echostr": echostr,
    }
    response = await client.get(f"/wecom/callback/{connection.id}", params=params)
    assert response.status_code == 200
    assert response.content == b"1616140317555161061"  # no quotes, no BOM, no newline


async def test_get_verification_with_bad_signature_is_403(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, keys = await make_connection(rt)
    echostr = keys.crypto().encrypt("42")
    params = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "2", "echostr": echostr}
    response = await client.get(f"/wecom/callback/{connection.id}", params=params)
    assert response.status_code == 403


async def test_post_stores_token_and_enqueues_one_coalesced_sync(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection, keys = await make_connection(rt)
    account = await make_account(rt, connection, "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q")
    for token in ("ENCfirst", "ENCsecond", "ENCthird"):
        params, body = signed_callback(
            keys.crypto(), kf_event_xml(keys.corp_id, account.open_kfid, token), clock=rt.clock
        )
        response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
        assert response.status_code == 200
        assert response.text == "success"
    async with rt.db.read() as session:
        stored = await session.get(KfAccount, account.id)
        jobs = (await session.scalars(select(Job).where(Job.task == "ingest.sync"))).all()
    assert stored is not None and stored.sync_token == "ENCthird"  # the freshest token wins
    assert stored.sync_token_expires_at is not None
    assert (stored.sync_token_expires_at - rt.clock.now()).total_seconds() == 600
    assert len(jobs) == 1 and jobs[0].args == {"account_id": account.id}
    assert await _count(rt, CallbackEvent) == 3


async def test_post_for_an_unknown_account_creates_it(rt: Runtime, client: httpx.AsyncClient) -> None:
    """The bootstrap boundary of an account first seen in a callback lies before the message
    that woke us (CreateTime minus a minute), so that message is acted on, not skipped."""
    connection, keys = await make_connection(rt)
    created = int(rt.clock.timestamp()) - 5
    xml = kf_event_xml(keys.corp_id, "wkNewlyAuthorised").replace("1348831860", str(created))
    params, body = signed_callback(keys.crypto(), xml, clock=rt.clock)
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 200
    async with rt.db.read() as session:
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == "wkNewlyAuthorised"))
    assert account is not None
    assert account.connected_at.timestamp() == created - 60


async def test_an_implausible_create_time_looks_back_at_most_ten_minutes(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection, keys = await make_connection(rt)
    params, body = signed_callback(
        keys.crypto(), kf_event_xml(keys.corp_id, "wkOld"), clock=rt.clock
    )  # CreateTime in 2012
    assert (
        await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    ).status_code == 200
    async with rt.db.read() as session:
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == "wkOld"))
    assert account is not None
    assert (rt.clock.now() - account.connected_at).total_seconds() == 600


async def test_bad_signature_is_403_and_stores_nothing(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, keys = await make_connection(rt)
    params, body = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, "wkA"), clock=rt.clock)
    params["msg_signature"] = params["msg_signature"][::-1]
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 403
    assert await _count(rt, CallbackEvent) == 0
    assert await _count(rt, Job) == 0


async def test_payload_for_another_corp_is_refused(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, keys = await make_connection(rt)
    from kefu.wecom.crypto import CallbackCrypto

    other = CallbackCrypto(keys.token, keys.aes_key, "wwSomeOtherCorp")  # same keys, wrong receiveid
    params, body = signed_callback(other, kf_event_xml("wwSomeOtherCorp", "wkA"), clock=rt.clock)
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 403
    assert await _count(rt, CallbackEvent) == 0


async def test_billion_laughs_is_400_without_expansion(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, _ = await make_connection(rt)
    response = await client.post(
        f"/wecom/callback/{connection.id}",
        params={"msg_signature": "x", "timestamp": "1", "nonce": "1"},
        content=BILLION_LAUGHS,
    )
    assert response.status_code == 400
    assert await _count(rt, CallbackEvent) == 0


async def test_signed_external_entity_is_400_and_never_resolved(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection, keys = await make_connection(rt)
    params, body = signed_callback(keys.crypto(), EXTERNAL_ENTITY, clock=rt.clock)
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 400
    assert "root:" not in response.text
    assert await _count(rt, CallbackEvent) == 0


async def test_oversized_body_is_400(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, _ = await make_connection(rt)
    body = b"<xml><Encrypt>" + b"A" * (rt.settings.callback_max_body_bytes + 1) + b"</Encrypt></xml>"
    response = await client.post(f"/wecom/callback/{connection.id}", params={}, content=body)
    assert response.status_code == 400


async def test_oversized_chunked_body_is_400_without_reading_it_all(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection, _ = await make_connection(rt)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        nonlocal sent
        yield b"<xml><Encrypt>"
        for _ in range(10_000):
            sent += 1
            yield b"A" * 4096

    response = await client.post(f"/wecom/callback/{connection.id}", params={}, content=endless())
    assert response.status_code == 400
    assert response.text == "body too large"
    assert sent < 10_000  # the endpoint stopped reading at the limit


async def test_malformed_xml_and_missing_encrypt_are_400(rt: Runtime, client: httpx.AsyncClient) -> None:
    connection, _ = await make_connection(rt)
    for body in (b"<xml><Encrypt>", b"not xml at all", b"<xml><Other>1</Other></xml>", b"<root/>"):
        response = await client.post(f"/wecom/callback/{connection.id}", params={}, content=body)
        assert response.status_code == 400, body


async def test_unknown_connection_is_404(rt: Runtime, client: httpx.AsyncClient) -> None:
    _, keys = await make_connection(rt)
    params, body = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, "wkA"), clock=rt.clock)
    response = await client.post("/wecom/callback/999", params=params, content=body)
    assert response.status_code == 404


async def test_account_auth_change_records_accounts_and_refreshes(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    connection, keys = await make_connection(rt)
    removed = await make_account(rt, connection, "wkRemoved")
    for tag, open_kfid in (("AuthAddOpenKfId", "wkAdded"), ("AuthDelOpenKfId", "wkRemoved")):
        xml = (
            f"<xml><ToUserName><![CDATA[{keys.corp_id}]]></ToUserName><FromUserName>sys</FromUserName>"
            "<CreateTime>1348831860</CreateTime><MsgType>event</MsgType>"
            f"<Event>kf_account_auth_change</Event><{tag}><![CDATA[{open_kfid}]]></{tag}></xml>"
        )
        params, body = signed_callback(keys.crypto(), xml, clock=rt.clock)
        assert (
            await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
        ).status_code == 200
    async with rt.db.read() as session:
        accounts = {a.open_kfid: a for a in (await session.scalars(select(KfAccount))).all()}
        tasks = sorted(job.task for job in (await session.scalars(select(Job))).all())
    assert accounts["wkAdded"].authorized is True
    assert accounts["wkRemoved"].authorized is False and accounts["wkRemoved"].id == removed.id
    # one sync for the added account, one coalesced refresh of kf/account/list
    assert tasks == ["ingest.refresh_accounts", "ingest.sync"]


async def test_our_failure_after_a_good_signature_answers_200_and_keeps_the_event(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    """A bug of ours must never make WeCom re-send: the event is kept and retried."""
    connection, keys = await make_connection(rt)
    account = await make_account(rt, connection)
    params, body = signed_callback(
        keys.crypto(), kf_event_xml(keys.corp_id, account.open_kfid, "ENCkept"), clock=rt.clock
    )
    async with refusing(rt, "kf_accounts", "UPDATE"):
        response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
        assert response.status_code == 200 and response.text == "success"
    async with rt.db.read() as session:
        event = (await session.scalars(select(CallbackEvent))).one()
        tasks = [job.task for job in (await session.scalars(select(Job))).all()]
    assert event.status == "pending" and "injected failure" in (event.error or "")
    assert tasks == ["ingest.retry_callback"]

    await Worker(rt).run_until_idle(max_jobs=1)  # the retry only; the sync it wakes stays queued
    async with rt.db.read() as session:
        event = (await session.scalars(select(CallbackEvent))).one()
        stored = await session.get(KfAccount, account.id)
        sync_jobs = (await session.scalars(select(Job).where(Job.task == "ingest.sync"))).all()
    assert event.status == "done" and event.error is None
    assert stored is not None and stored.sync_token == "ENCkept"
    assert len(sync_jobs) == 1


async def test_when_the_database_cannot_take_the_write_it_answers_503_and_the_resend_is_kept(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    """Only a database that cannot record anything makes WeCom re-send (503); nothing half-kept.
    (The table is renamed away: SQLite then fails with OperationalError, as on a locked or
    unreadable file.)"""
    connection, keys = await make_connection(rt)
    account = await make_account(rt, connection)
    params, body = signed_callback(
        keys.crypto(), kf_event_xml(keys.corp_id, account.open_kfid, "ENCdown"), clock=rt.clock
    )
    async with rt.db.write() as session:
        await session.execute(text("ALTER TABLE callback_events RENAME TO callback_events_away"))
    try:
        response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
        assert response.status_code == 503
        assert await _count(rt, Job) == 0
    finally:
        async with rt.db.write() as session:
            await session.execute(text("ALTER TABLE callback_events_away RENAME TO callback_events"))
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 200 and response.text == "success"
    assert await _count(rt, CallbackEvent) == 1 and await _count(rt, Job) == 1


async def test_a_signature_with_non_ascii_characters_is_403_not_a_crash(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    """hmac.compare_digest raises TypeError on a str with non-ASCII characters: it was a 500 on
    GET and a 503 on POST (found by the fuzz test)."""
    connection, keys = await make_connection(rt)
    crypto = keys.crypto()
    now = str(int(rt.clock.timestamp()))
    echostr = crypto.encrypt("42")
    params = {"msg_signature": "\x80签名", "timestamp": now, "nonce": "1", "echostr": echostr}
    assert (await client.get(f"/wecom/callback/{connection.id}", params=params)).status_code == 403
    params, body = signed_callback(crypto, kf_event_xml(keys.corp_id, "wkA"), clock=rt.clock)
    params["msg_signature"] = "签" * 20
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 403
    assert await _count(rt, CallbackEvent) == 0


@pytest.mark.parametrize("encoding", ["gbk", "no-such-codec", "utf-7"])
async def test_an_xml_encoding_the_parser_cannot_read_is_400_not_a_crash(
    rt: Runtime, client: httpx.AsyncClient, encoding: str
) -> None:
    """An unknown encoding (LookupError) or a multi-byte one expat cannot read (ValueError) in the
    XML declaration was a 500 (found by the fuzz test)."""
    connection, keys = await make_connection(rt)
    params, body = signed_callback(keys.crypto(), kf_event_xml(keys.corp_id, "wkA"), clock=rt.clock)
    body = f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + body
    response = await client.post(f"/wecom/callback/{connection.id}", params=params, content=body)
    assert response.status_code == 400 and response.text == "bad xml"
    assert await _count(rt, CallbackEvent) == 0
