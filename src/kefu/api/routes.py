"""The /api/v1 router: every REST resource, behind bearer-token auth, with domain errors as JSON.

Domain errors (kefu.errors.DomainError) become `{"error": code, "message": text}` with
their status; 401 answers carry `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from kefu.errors import DomainError


def error_body(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    check = getattr(exc, "check", None)
    if check is not None:
        from kefu.accounts.schemas import check_out

        body["check"] = check_out(check).model_dump()
    return body


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


def build_api_router() -> APIRouter:
    from kefu.accounts.kf_routes import router as accounts_router
    from kefu.accounts.routes import router as connections_router
    from kefu.reception.routes import router as conversations_router

    api = APIRouter(prefix="/api/v1")
    api.include_router(connections_router)
    api.include_router(accounts_router)
    api.include_router(conversations_router)
    return api
