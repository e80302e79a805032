"""The route class of /api/v1: domain errors as JSON. Feature packages declare their routers with
it; `kefu.app` assembles them under /api/v1.

Domain errors (kefu.errors.DomainError) become `{"error": code, "message": text}` with
their status; 401 answers carry `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from kefu.errors import DomainError


def error_body(exc: DomainError) -> dict[str, Any]:
    return {"error": exc.code, "message": exc.message, **exc.details()}


class ApiRoute(APIRoute):
    """Turns a DomainError raised in a handler or a dependency into its JSON answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
                return JSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)

        return handle
