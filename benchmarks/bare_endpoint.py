"""The baseline for benchmarks/callback.py: an ASGI endpoint that does only what any
callback receiver must — parse the envelope safely, check the signature, decrypt — and
answers `success`. Run: python benchmarks/bare_endpoint.py PORT TOKEN AES_KEY CORP_ID"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kefu.ingest.xml import parse_flat_xml
from kefu.wecom.crypto import CallbackCrypto, CallbackCryptoError


def make_app(crypto: CallbackCrypto) -> Starlette:
    async def receive(request: Request) -> PlainTextResponse:
        params = request.query_params
        body = await request.body()
        encrypted = parse_flat_xml(body).get("Encrypt", "")
        try:
            crypto.verify(
                params.get("msg_signature", ""),
                params.get("timestamp", ""),
                params.get("nonce", ""),
                encrypted,
            )
            parse_flat_xml(crypto.decrypt(encrypted))
        except CallbackCryptoError:
            return PlainTextResponse("refused", status_code=403)
        return PlainTextResponse("success")

    return Starlette(routes=[Route("/wecom/callback/{connection_id}", receive, methods=["POST"])])


if __name__ == "__main__":
    port, token, aes_key, corp_id = sys.argv[1:5]
    uvicorn.run(
        make_app(CallbackCrypto(token, aes_key, corp_id)),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
    )
