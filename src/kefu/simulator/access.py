"""The control token: off loopback, the simulator's control API, pages and views need it.

On loopback (the default) only the machine's own users reach the simulator, and tests and the
demo call it freely. Bound elsewhere (`--allow-remote`), anyone on the network could read every
corp's secrets and act as any customer, so `/_sim/...` then asks for the token printed in the
banner: `Authorization: Bearer <token>`, or a page opened once with `?token=<token>`, which
leaves a cookie so the page's own requests carry it. `/cgi-bin/...` keeps WeCom's own auth
(access tokens from the corp secret), which is what Kefu uses.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "kefu_sim_token"
OPEN_PREFIXES = ("/_sim/static/",)  # CSS and JS: nothing of the world


class ControlTokenMiddleware:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/_sim") or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        cookie = SimpleCookie(headers.get("cookie", "")).get(COOKIE)
        offered = [
            headers.get("authorization", "").removeprefix("Bearer ").strip(),
            cookie.value if cookie else "",
            query,
        ]
        if not any(o and hmac.compare_digest(o.encode(), self.token.encode()) for o in offered):
            await _refuse(send)
            return
        if query != self.token:
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = f"{COOKIE}={self.token}; Path=/_sim; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value.encode())]
            await send(message)

        await self.app(scope, receive, with_cookie)


async def _refuse(send: Send) -> None:
    body = json.dumps(
        {
            "detail": "this simulator listens beyond loopback, so /_sim/ needs its control token "
            "(printed by `kefu demo` / `kefu simulator`): send Authorization: Bearer <token>, "
            "or open a page once with ?token=<token>"
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
