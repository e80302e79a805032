"""Every error under /api/v1 answers `{"error", "message"}` (and a coded refusal its `problem`
and `values`); the docs live under /api/ only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kefu.api.routes import install_error_handlers
from kefu.api.tokens import create_token
from kefu.app import create_app
from kefu.console.web import install_console_errors
from kefu.runtime import Runtime
from tests.db_faults import refusing
from tests.factories import make_connection

pytestmark = pytest.mark.db


@pytest.fixture
async def app(rt: Runtime) -> object:
    return create_app(runtime=rt, run_worker=False)


@pytest.fixture
async def api(rt: Runtime, app: object) -> AsyncIterator[httpx.AsyncClient]:
    async with rt.db.write() as session:
        _, token = await create_token(session, name="shape", now=rt.clock.now())
    async with httpx.AsyncClient(
        # a crash is answered like any other error instead of being raised into the test
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),  # type: ignore[arg-type]
        base_url="http://kefu.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def assert_shape(response: httpx.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) - {"problem", "values"} == {"error", "message"} and body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"]
    return body


async def test_unknown_path_is_404_in_the_api_shape(api: httpx.AsyncClient) -> None:
    body = assert_shape(await api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "/api/v1/no-such-thing" in body["message"]
    anonymous = await api.get("/api/v1/no-such-thing", headers={"Authorization": ""})
    assert_shape(anonymous, 404, "not_found")


async def test_unknown_row_is_404_in_the_api_shape(api: httpx.AsyncClient) -> None:
    for path, problem in (
        ("connections", "connection_not_found"),
        ("conversations", "conversation_not_found"),
    ):
        body = assert_shape(await api.get(f"/api/v1/{path}/12345"), 404, "not_found")
        assert (body["problem"], body["values"]) == (problem, {"id": 12345})


async def test_wrong_method_is_405_in_the_api_shape(api: httpx.AsyncClient) -> None:
    response = await api.delete("/api/v1/connections")
    body = assert_shape(response, 405, "method_not_allowed")
    assert "DELETE" in body["message"]
    assert "GET" in response.headers["allow"]


async def test_validation_errors_are_422_in_the_api_shape(api: httpx.AsyncClient) -> None:
    body = assert_shape(await api.get("/api/v1/connections/99999999999999999999999"), 422, "invalid")
    assert "connection_id" in body["message"]
    body = assert_shape(await api.get("/api/v1/conversations?limit=0"), 422, "invalid")
    assert "limit" in body["message"]
    body = assert_shape(await api.post("/api/v1/connections", json={"name": "x"}), 422, "invalid")
    assert "corp_id" in body["message"]


async def test_unauthorised_is_401_in_the_api_shape(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/connections", headers={"Authorization": "Bearer nope"})
    assert_shape(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_crash_is_500_in_the_api_shape(rt: Runtime, api: httpx.AsyncClient) -> None:
    connection, _ = await make_connection(rt)
    async with refusing(rt, "connections", "UPDATE"):
        response = await api.patch(f"/api/v1/connections/{connection.id}", json={"name": "renamed"})
    assert_shape(response, 500, "internal")


async def test_errors_outside_the_api_keep_their_own_shape(api: httpx.AsyncClient) -> None:
    response = await api.get("/nowhere")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


async def test_docs_live_under_api_and_nothing_at_the_root(app: object, api: httpx.AsyncClient) -> None:
    for path in ("/api/docs", "/api/redoc", "/api/v1/openapi.json", "/api/docs/oauth2-redirect"):
        assert (await api.get(path)).status_code == 200, path
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert (await api.get(path)).status_code == 404, path
    # whatever the app routes itself (docs included) is under /api/, but the health checks,
    # the Prometheus scrape and the console (its pages are included as a router)
    paths = {getattr(route, "path", None) for route in app.routes} - {None}  # type: ignore[attr-defined]
    elsewhere = {p for p in paths if not p.startswith("/api/")}
    assert elsewhere == {"/healthz", "/readyz", "/metrics", "/console/static"}


@pytest.mark.parametrize("console_first", [True, False])
async def test_a_refused_query_is_answered_by_its_own_side_whichever_handler_was_installed_first(
    console_first: bool,
) -> None:
    """The REST API answers its JSON and the console its page, whichever of the two installed its
    request validation handler first (each passes the other's paths on)."""
    bare = FastAPI()

    @bare.get("/api/v1/numbers")
    async def numbers(n: int) -> dict[str, int]:
        return {"n": n}

    installers = [install_console_errors, install_error_handlers]
    for install in installers if console_first else installers[::-1]:
        install(bare)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare), base_url="http://kefu.test"
    ) as client:
        refused = await client.get("/api/v1/numbers", params={"n": "two"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid" and refused.json()["message"].startswith("query.n:")
