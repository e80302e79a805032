"""Access to every route (issue #15). The routes are read from `app.routes` — not from the OpenAPI
schema, which a route can leave with `include_in_schema=False` — so a route added later is
covered without touching this file, and one added without auth fails here.

Kefu has one kind of API token today: every token is an admin (`kefu tokens create`). There is
no servicer role yet, so "nothing admin reachable by a servicer" reduces to "nothing reachable
without a valid token"; the console issue will add roles, and this test is where their refusals
belong.

Public on purpose, listed with the reason in PUBLIC; anything else must require a token:
- every `/api/v1` route answers 401 (with `WWW-Authenticate: Bearer`) without a token, with a
  malformed or unknown one and with a revoked one, whatever the method, and changes nothing in
  the database;
- `require_token` is the first dependency of each of them, so no other dependency (which may
  read or write) runs before it.
The WeCom callback (`/wecom/callback/{id}`) is not a route but a middleware in front of them: it
is authenticated by WeCom's signature, which tests/ingest/test_callback_fuzz.py attacks.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from sqlalchemy import func, select

from kefu.api.auth import require_token
from kefu.api.routes import API_PREFIX
from kefu.api.tokens import create_token, revoke_token
from kefu.app import create_app
from kefu.registry import metadata
from kefu.runtime import Runtime
from tests.factories import make_account, make_connection

pytestmark = pytest.mark.db

PUBLIC = {
    "/healthz": "the load balancer's health check: a status and a count, no data",
    "/api/v1/openapi.json": "the API's schema: describes the routes, holds no data",
    "/api/docs": "Swagger UI over the schema (static page)",
    "/api/docs/oauth2-redirect": "Swagger UI's OAuth helper page (static)",
    "/api/redoc": "ReDoc over the schema (static page)",
    "/readyz": "readiness for the load balancer: which checks fail (ids and lags), no customer data",
    "/metrics": "Prometheus scrape: its own token (KEFU_METRICS_TOKEN), 404 while that is unset",
    "/console/static/console.css": "the console's CSS and JavaScript (vendored htmx): no data",
}
# The console's pages sign in with a session, not a token: tests/console/test_access.py walks
# each of them anonymously and with every role.
CONSOLE = "/console/"
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def routes(app: FastAPI) -> list[tuple[str, str, RouteContext]]:
    """(method, path, route) for every method of every route the app has, as FastAPI serves them
    (included routers flattened, their prefixes and dependencies applied)."""
    found = []
    for route in iter_route_contexts(app.routes):
        if route.path.startswith(CONSOLE):  # session-authenticated: tests/console/test_access.py
            continue
        assert route.path and route.methods, f"a route of an unknown kind: {route!r}: add it to this test"
        for method in sorted(route.methods):
            if method != "HEAD":
                found.append((method, route.path, route))
    return found


def concrete(path: str) -> str:
    """The path with every parameter filled with 1: the rows the fixture made have id 1, so a
    route that did its work before checking the token would find something to work on."""
    return PARAM.sub("1", path)


@pytest.fixture
async def app(rt: Runtime) -> FastAPI:
    connection, _ = await make_connection(rt)
    await make_account(rt, connection)
    return create_app(runtime=rt, run_worker=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test") as c:
        yield c


async def _row_counts(rt: Runtime) -> dict[str, int]:
    async with rt.db.read() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
        }


def test_every_route_is_public_on_purpose_or_under_the_api_with_the_token_checked_first(app: FastAPI) -> None:
    public_seen = set()
    for _method, path, route in routes(app):
        if path in PUBLIC:
            public_seen.add(path)
            continue
        assert path.startswith(API_PREFIX + "/"), (
            f"{path} is neither public on purpose nor under {API_PREFIX}"
        )
        dependant = getattr(route, "dependant", None)
        assert dependant is not None, f"{path} is not a FastAPI route: its auth cannot be checked"
        first = dependant.dependencies[0].call if dependant.dependencies else None
        assert first is require_token, f"{path}: require_token must be its first dependency, not {first}"
    assert public_seen == set(PUBLIC) - {"/console/static/console.css"}, (
        f"listed as public but gone: {set(PUBLIC) - public_seen}"
    )


async def test_every_api_route_refuses_a_request_without_a_valid_token(
    rt: Runtime, app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with rt.db.write() as session:
        _, revoked = await create_token(session, name="revoked", now=rt.clock.now())
    async with rt.db.write() as session:
        await revoke_token(session, "revoked")
    async with rt.db.write() as session:
        _, valid = await create_token(session, name="valid", now=rt.clock.now())
    credentials = {
        "no token": {},
        "empty bearer": {"Authorization": "Bearer "},
        "another scheme": {"Authorization": f"Basic {valid}"},
        "unknown token": {"Authorization": "Bearer kefu_not-a-token"},
        "a valid token's prefix": {"Authorization": f"Bearer {valid[:12]}"},
        "revoked token": {"Authorization": f"Bearer {revoked}"},
    }
    bodies = [
        b"{}",
        b'{"name": "x", "corp_id": "ww1", "secret": "s", "servicer_userid": "alice"}',
        b"\x00{not json",
    ]
    before = await _row_counts(rt)
    checked = 0
    for method, path, _route in routes(app):
        if path in PUBLIC:
            continue
        for what, headers in credentials.items():
            for body in bodies if method in ("POST", "PUT", "PATCH") else [b""]:
                response = await client.request(
                    method,
                    concrete(path),
                    headers={**headers, "Content-Type": "application/json"},
                    content=body,
                )
                label = f"{method} {path} with {what}, body {body[:20]!r}"
                assert response.status_code == 401, (label, response.status_code, response.text)
                assert response.headers.get("www-authenticate") == "Bearer", label
                assert response.json()["error"] == "unauthorized", label
                checked += 1
    assert checked > 100  # the sweep really ran over the app's routes
    assert await _row_counts(rt) == before  # nothing was written by any refused request


# What a public route answers here: /readyz names its failing check (no worker runs in this test),
# /metrics is not served while KEFU_METRICS_TOKEN is unset.
ANSWERS = {"/readyz": 503, "/metrics": 404}


async def test_the_public_routes_answer_without_a_token(client: httpx.AsyncClient) -> None:
    for path in PUBLIC:
        response = await client.get(path)
        assert response.status_code == ANSWERS.get(path, 200), path
