"""Every request body has a limit, checked as it arrives: a declared Content-Length over it is
refused before a byte is read, and a body without one (chunked) as soon as what arrived passes
it — never buffered whole. Without it an API client or a console user could send a body of any
size, read into memory (a multipart upload: spooled to disk) before anything looked at it.

`MAX_BODY_BYTES` fits the largest body Kefu takes, an import file (knowledge base or CRM,
`MAX_IMPORT_BYTES`, the REST API's and the console's) with the console's form around it:
`BodyLimit` holds every request to it. The callback endpoint holds its requests to
KEFU_CALLBACK_MAX_BODY_BYTES through the same `limited`. The check runs when the app reads the
body, so a request refused first (the API's token is checked before the body) is never read.
Over the limit the read raises `TooLarge` (413): the API answers it in its error shape, the
console with its error page."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.errors import TooLarge

MB = 1024 * 1024
MAX_IMPORT_BYTES = 20 * MB  # a knowledge base or CRM file, CSV or XLSX
MAX_BODY_BYTES = MAX_IMPORT_BYTES + MB  # an import file with the console's form around it


def limited(scope: Scope, receive: Receive, limit: int) -> Receive:
    """`receive` that raises TooLarge once the request's body is over `limit` bytes."""
    lengths = [value for name, value in scope["headers"] if name == b"content-length"]
    declared = int(lengths[0]) if lengths and lengths[0].isdigit() else 0
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        if declared > limit:
            raise _too_large(limit)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    return receive_limited


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the request body is over {limit // MB} MB, the most Kefu reads"
        f" (an import file is {MAX_IMPORT_BYTES // MB} MB at most)",
        "body_too_large",
        {"limit_mb": limit // MB, "import_mb": MAX_IMPORT_BYTES // MB},
    )


class BodyLimit:
    """ASGI middleware: every HTTP request's body held to `MAX_BODY_BYTES`."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = limited(scope, receive, self.limit)
        await self.app(scope, receive, send)
