"""Security headers on every console answer (pages, fragments, static files, the event stream).

The Content-Security-Policy lets scripts run only from the console's own static files: the
templates escape every value, and should one ever slip through, an injected `<script>`, an
`onerror=` attribute or a `javascript:` link still does not run. Styles may be inline (the
templates' `style=` attributes, htmx's indicator style); images come from the console itself
(the account avatars, the QR code) or `data:` (the blank favicon). No other site may frame it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class ConsoleHeaders:
    """ASGI middleware: the headers above on every answer under /console (a plain middleware,
    not BaseHTTPMiddleware, so the live event stream passes through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/console"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
