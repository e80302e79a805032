"""The baseline for benchmarks/callback.py: an ASGI endpoint that does only what any
callback receiver must — parse the envelope safely, check the signature, decrypt — and
answers `success`. Run: python benchmarks/bare_endpoint.py PORT TOKEN AES_KEY CORP_ID"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kefu.ingest.xml import parse_flat_xml
from kefu.wecom.crypto import CallbackCrypto, CallbackCryptoError


async def decrypt_callback(request: Request, crypto: CallbackCrypto) -> dict[str, Any] | None:
    """The callback's decrypted event, or None when its signature or ciphertext is wrong."""
    params = request.query_params
    encrypted = parse_flat_xml(await request.body()).get("Encrypt", "")
    try:
        crypto.verify(
            params.get("msg_signature", ""), params.get("timestamp", ""), params.get("nonce", ""), encrypted
        )
        return dict(parse_flat_xml(crypto.decrypt(encrypted)))
    except CallbackCryptoError:
        return None


def make_app(crypto: CallbackCrypto) -> Starlette:
    async def receive(request: Request) -> PlainTextResponse:
        if await decrypt_callback(request, crypto) is None:
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
