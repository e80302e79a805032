"""The route class of /api/v1: the bearer token checked before anything else, domain errors as
JSON. Feature packages declare their routers with it; `kefu.app` assembles them under /api/v1.

Domain errors (kefu.errors.DomainError) become `{"error": code, "message": text}` with
their status; 401 answers carry `WWW-Authenticate: Bearer`. FastAPI's own errors under /api/v1
(unknown path 404, 405, validation 422, 500) answer the same shape: one for every client.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from kefu.api.auth import authenticate
from kefu.db.base import storable
from kefu.errors import DomainError

API_PREFIX = "/api/v1"


def error_body(exc: DomainError) -> dict[str, Any]:
    return {"error": exc.code, "message": exc.message, **exc.details()}


class ApiRoute(APIRoute):
    """Turns a DomainError raised in a handler or a dependency into its JSON answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                # The token first, before FastAPI reads and parses the body: a request without a
                # valid token is 401 whatever it sends (a malformed body was a 422 before auth),
                # and costs no parsing. Every ApiRoute requires a token; a public route is not one.
                await authenticate(request)
                # Read here, under kefu.api.body_limit's limit: its TooLarge answers 413 below,
                # where FastAPI's own read would turn it into a 400. The handler reads it again free.
                await request.body()
                if problem := await unstorable_text(request):
                    return JSONResponse({"error": "invalid", "message": problem}, status_code=422)
                return await handler(request)
            except DomainError as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
                return JSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)

        return handle


UNSTORABLE = "text holds a character no database column can store (NUL, \\u0000, or an unpaired surrogate)"


async def unstorable_text(request: Request) -> str | None:
    """What PostgreSQL would refuse with a 500 deep in a handler, refused first as a 422: NUL in
    the path, the query or a JSON string, or a lone surrogate in JSON (valid JSON, not UTF-8) —
    and a JSON body that is not UTF-8 (RFC 8259), which FastAPI answered with a bare 400."""
    if "\x00" in request.scope["path"] or any("\x00" in v for v in request.query_params.values()):
        return UNSTORABLE
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None
    body = await request.body()  # kept by the request: the handler reads it again for free
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 (byte {exc.start} is not): send JSON as UTF-8"
    if b"\\u" not in body and b"\x00" not in body:
        return None  # nothing escaped, and bytes that decode are storable: the common case
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # FastAPI answers malformed JSON itself
    return UNSTORABLE if not storable(parsed) else None


def _under_api(request: Request) -> bool:
    path = request.url.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no such path: {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return JSONResponse({"error": code, "message": message}, status_code=exc.status_code, headers=exc.headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


async def passed_on(handler: Any, request: Request, exc: Exception) -> Response:
    """The answer of the handler installed before (sync or async, as Starlette allows)."""
    answer = handler(request, exc)
    return await answer if inspect.isawaitable(answer) else answer


def install_error_handlers(app: FastAPI) -> None:
    """Errors FastAPI raises itself answer `{"error", "message"}` under /api/v1; elsewhere
    (the health check, the docs) they keep FastAPI's defaults, or go to the handler installed
    before this one (the console's pages)."""
    outside_api = app.exception_handlers.get(RequestValidationError, request_validation_exception_handler)
    http_outside_api = app.exception_handlers.get(HTTPException, http_exception_handler)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not _under_api(request):
            return await passed_on(http_outside_api, request, exc)
        return _http_error(request, exc)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _under_api(request):
            return await passed_on(outside_api, request, exc)
        return JSONResponse({"error": "invalid", "message": _validation_message(exc)}, status_code=422)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Starlette still re-raises it afterwards, so the server logs the traceback.
        if not _under_api(request):
            return PlainTextResponse("Internal Server Error", status_code=500)
        return JSONResponse({"error": "internal", "message": "internal error"}, status_code=500)

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exception, on_crash)
