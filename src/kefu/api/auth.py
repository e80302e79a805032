"""Bearer-token authentication for /api/v1: `Authorization: Bearer <token>` from `kefu tokens create`."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import update

from kefu.api.models import ApiToken
from kefu.api.tokens import due_for_last_used, find_token
from kefu.errors import DomainError
from kefu.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A token from `kefu tokens create --name NAME`.")


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


async def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> ApiToken:
    """The caller's token row, or 401. ApiRoute calls it first (`authenticate`), before FastAPI
    reads the body; as a dependency it then returns the row found then."""
    known: ApiToken | None = getattr(request.state, "api_token", None)
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>` with a token from "
            "`kefu tokens create --name NAME`"
        )
    rt: Runtime = request.app.state.runtime
    async with rt.db.read() as session:
        row = await find_token(session, credentials.credentials)
    if row is None:
        raise Unauthorized("invalid or revoked API token")
    now = rt.clock.now()
    if due_for_last_used(row, now):
        async with rt.db.write() as session:
            await session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    request.state.api_token = row
    return row


async def authenticate(request: Request) -> ApiToken:
    """require_token straight from the request, before FastAPI has read or parsed anything."""
    return await require_token(request, await bearer(request))


def api_actor(token: ApiToken) -> str:
    """Who an API write is audited as: the token's name (it outlives the token in the log)."""
    return f"api:{token.name}"
