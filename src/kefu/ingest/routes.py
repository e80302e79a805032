"""The callback endpoint `/wecom/callback/{connection_id}`.

It verifies, decrypts, records and wakes one sync — no WeCom call on the request
path, so it answers in milliseconds. Bad signatures get 403, bad XML 400, both
with nothing stored. Once the signature checks out, a failure of ours still
answers 200 with the event kept for retry: our bug must never make WeCom re-send.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import OperationalError

from kefu.accounts.models import Connection
from kefu.ingest.models import CallbackEvent
from kefu.ingest.service import record_callback
from kefu.ingest.xml import BadXML, parse_flat_xml
from kefu.jobs.queue import enqueue
from kefu.logs import get_logger
from kefu.runtime import Runtime
from kefu.wecom.crypto import CallbackCrypto, CallbackCryptoError

router = APIRouter(include_in_schema=False)
log = get_logger(__name__)
RETRY_CALLBACK_TASK = "ingest.retry_callback"


def _text(status: int, body: str) -> PlainTextResponse:
    return PlainTextResponse(body, status_code=status)


async def _crypto_for(rt: Runtime, connection_id: int) -> tuple[Connection, CallbackCrypto] | None:
    async with rt.db.read() as session:
        connection = await session.get(Connection, connection_id)
    if connection is None:
        return None
    crypto = CallbackCrypto(
        rt.secrets.open(connection.callback_token_enc),
        rt.secrets.open(connection.aes_key_enc),
        connection.corp_id,
    )
    return connection, crypto


@router.get("/wecom/callback/{connection_id}")
async def verify_url(
    connection_id: int,
    request: Request,
    msg_signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    echostr: str = "",
) -> PlainTextResponse:
    rt: Runtime = request.app.state.runtime
    found = await _crypto_for(rt, connection_id)
    if found is None:
        return _text(404, "unknown connection")
    _, crypto = found
    try:
        crypto.verify(msg_signature, timestamp, nonce, echostr)
        plaintext = crypto.decrypt(echostr)
    except CallbackCryptoError as exc:
        log.warning("callback.verify_refused", connection_id=connection_id, reason=str(exc))
        return _text(
            403 if exc.code in (CallbackCryptoError.SIGNATURE, CallbackCryptoError.RECEIVEID) else 400,
            "refused",
        )
    return _text(200, plaintext)


@router.post("/wecom/callback/{connection_id}")
async def receive(
    connection_id: int, request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = ""
) -> PlainTextResponse:
    rt: Runtime = request.app.state.runtime
    limit = rt.settings.callback_max_body_bytes
    if int(request.headers.get("content-length") or 0) > limit:
        log.warning("callback.too_large", connection_id=connection_id)
        return _text(400, "body too large")
    body = await request.body()
    if len(body) > limit:
        log.warning("callback.too_large", connection_id=connection_id)
        return _text(400, "body too large")
    try:
        envelope = parse_flat_xml(body)
    except BadXML as exc:
        log.warning("callback.bad_xml", connection_id=connection_id, reason=str(exc))
        return _text(400, "bad xml")
    encrypted = envelope.get("Encrypt", "")
    if not encrypted:
        log.warning("callback.no_encrypt", connection_id=connection_id)
        return _text(400, "missing Encrypt")
    found = await _crypto_for(rt, connection_id)
    if found is None:
        return _text(404, "unknown connection")
    connection, crypto = found
    try:
        crypto.verify(msg_signature, timestamp, nonce, encrypted)
        xml = crypto.decrypt(encrypted)
        fields = parse_flat_xml(xml)
    except CallbackCryptoError as exc:
        log.warning("callback.refused", connection_id=connection_id, reason=str(exc), code=exc.code)
        forged = exc.code in (CallbackCryptoError.SIGNATURE, CallbackCryptoError.RECEIVEID)
        return _text(403 if forged else 400, "refused")
    except BadXML as exc:
        log.warning("callback.bad_inner_xml", connection_id=connection_id, reason=str(exc))
        return _text(400, "bad xml")
    return await _record(rt, connection, fields, xml)


async def _record(rt: Runtime, connection: Connection, fields: dict[str, str], xml: str) -> PlainTextResponse:
    now = rt.clock.now()
    try:
        async with rt.db.write() as session:
            await record_callback(session, connection, fields, xml, now=now)
        return _text(200, "success")
    except OperationalError:
        # The database itself is unavailable: nothing could be kept, so let WeCom re-send.
        log.exception("callback.database_unavailable", connection_id=connection.id)
        return _text(503, "unavailable")
    except Exception as exc:  # our bug: keep the event for retry and still acknowledge
        log.exception("callback.handler_failed", connection_id=connection.id)
        error = f"{type(exc).__name__}: {exc}"
    try:
        async with rt.db.write() as session:
            row = CallbackEvent(
                connection_id=connection.id,
                event=(fields.get("Event") or "?")[:64],
                open_kfid=fields.get("OpenKfId") or None,
                xml=xml,
                status="pending",
                error=error[:2000],
                received_at=now,
            )
            session.add(row)
            await session.flush()
            await enqueue(session, RETRY_CALLBACK_TASK, {"event_id": row.id}, now=now)
    except OperationalError:
        log.exception("callback.database_unavailable", connection_id=connection.id)
        return _text(503, "unavailable")
    return _text(200, "success")
