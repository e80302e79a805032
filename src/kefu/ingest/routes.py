"""The callback endpoint `/wecom/callback/{connection_id}`.

It verifies, decrypts, records and wakes one sync — no WeCom call on the request
path, so it answers in milliseconds; recording is group-committed (recorder.py).
The id, the parameters' sizes and the timestamp's freshness are checked first (checks.py),
so nothing malformed joins a batch. Bad signatures and stale timestamps get 403, bad XML 400,
both with nothing stored. Once the signature checks out, a failure of ours still answers 200
with the event kept for retry: our bug must never make WeCom re-send.

It is the one hot path WeCom drives, so it is a plain ASGI middleware in front of
FastAPI's routing and dependency machinery (which cost more than the work itself).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kefu import metrics
from kefu.accounts.models import Connection
from kefu.api.body_limit import limited
from kefu.db.base import row_id_of
from kefu.errors import TooLarge
from kefu.ingest.checks import STALE, CallbackStats, Refusal, check_query
from kefu.ingest.recorder import CallbackRecorder, SignedCallback, crypto_of, open_callback
from kefu.ingest.xml import BadXML, parse_flat_xml
from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger(__name__)
CALLBACK_PATH = re.compile(r"^/wecom/callback/([^/]*)$")


class CallbackEndpoint:
    """ASGI middleware answering GET (URL verification) and POST (events) on the callback path."""

    def __init__(
        self, app: ASGIApp, *, runtime: Runtime, recorder: CallbackRecorder, stats: CallbackStats
    ) -> None:
        self.app = app
        self.rt = runtime
        self.recorder = recorder
        self.stats = stats
        self.limit = runtime.settings.callback_max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = CALLBACK_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, limited(scope, receive, self.limit))
        connection_id = row_id_of(match.group(1))  # past the id range: 404 before any query
        if connection_id is None:
            status, body = 404, "unknown connection"
        elif request.method == "GET":
            status, body = await self.verify_url(connection_id, request.query_params)
        elif request.method == "POST":
            status, body = await self.receive(connection_id, request)
        else:
            status, body = 405, "method not allowed"
        metrics.callback_answered(request.method, status, body)
        await PlainTextResponse(body, status_code=status)(scope, receive, send)

    def refused(self, connection_id: int, params: Any) -> Refusal | None:
        """The query's checks (checks.py); a stale timestamp is counted for /healthz."""
        now = self.rt.clock.timestamp()
        refusal = check_query(params, now=now, window_s=self.rt.settings.callback_timestamp_window_s)
        if refusal is None:
            return None
        if refusal is STALE:
            self.stats.stale_refused += 1
            skew = int(params["timestamp"]) - int(now)
            log.warning(
                refusal.reason, connection_id=connection_id, skew_s=skew, total=self.stats.stale_refused
            )
        else:
            log.warning(refusal.reason, connection_id=connection_id)
        return refusal

    async def verify_url(self, connection_id: int, params: Any) -> tuple[int, str]:
        """WeCom's GET check when the URL is saved: answer the plaintext echostr, nothing else."""
        echostr = params.get("echostr", "")
        if len(echostr) > self.limit:
            log.warning("callback.too_large", connection_id=connection_id)
            return 400, "echostr too large"
        refusal = self.refused(connection_id, params)
        if refusal is not None:
            return refusal.status, refusal.body
        async with self.rt.db.read() as session:
            connection = await session.get(Connection, connection_id)
        if connection is None:
            return 404, "unknown connection"
        item = SignedCallback(
            connection_id,
            params.get("msg_signature", ""),
            params.get("timestamp", ""),
            params.get("nonce", ""),
            echostr,
        )
        opened = open_callback(
            connection_id,
            crypto_of(self.rt, connection.corp_id, connection.callback_token_enc, connection.aes_key_enc),
            item,
            parse=False,
        )
        if isinstance(opened, tuple):
            return 200, opened[1]
        return opened.status, opened.body

    async def receive(self, connection_id: int, request: Request) -> tuple[int, str]:
        try:  # a Content-Length over the limit reads nothing, a chunked body stops at the limit
            body = await request.body()
        except TooLarge:
            log.warning("callback.too_large", connection_id=connection_id)
            return 400, "body too large"
        try:
            envelope = parse_flat_xml(body)
        except BadXML as exc:
            log.warning("callback.bad_xml", connection_id=connection_id, reason=str(exc))
            return 400, "bad xml"
        encrypted = envelope.get("Encrypt", "")
        if not encrypted:
            log.warning("callback.no_encrypt", connection_id=connection_id)
            return 400, "missing Encrypt"
        params = request.query_params
        refusal = self.refused(connection_id, params)
        if refusal is not None:
            return refusal.status, refusal.body
        outcome = await self.recorder.submit(
            SignedCallback(
                connection_id,
                params.get("msg_signature", ""),
                params.get("timestamp", ""),
                params.get("nonce", ""),
                encrypted,
            )
        )
        return outcome.status, outcome.body
