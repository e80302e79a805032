"""Ids no row can have answer 4xx on every route, never 5xx. The routes are read from the app's
own OpenAPI schema, so a route added later is covered without touching this file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.api.tokens import create_token
from kefu.app import create_app
from kefu.runtime import Runtime

pytestmark = pytest.mark.db

# past 64 bits, just past the signed 64- and 32-bit ranges, zero and negatives, not numbers, too long to parse
BAD_IDS = [
    "99999999999999999999999",
    str(2**63),
    str(2**31),  # past PostgreSQL's `integer`: SQLite took it, PostgreSQL raised (a 500)
    "0",
    "-1",
    "abc",
    "1e3",
    "1.5",
    "%20",
    "\u0663",  # an Arabic-Indic digit: int() would take it
    "9" * 5000,  # past Python's int-from-string limit
]
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@pytest.fixture
async def app_and_client(rt: Runtime) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(runtime=rt, run_worker=False)
    async with rt.db.write() as session:
        _, token = await create_token(session, name="ids", now=rt.clock.now())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://kefu.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield app, client


def _operations(app: object) -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every route the app documents (its OpenAPI schema)."""
    spec = app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def _is_integer(parameter: dict) -> bool:
    schema = parameter.get("schema", {})
    return schema.get("type") == "integer" or any(s.get("type") == "integer" for s in schema.get("anyOf", []))


async def _request(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> httpx.Response:
    if method in {"POST", "PUT", "PATCH"}:
        kwargs.setdefault("json", {})
    return await client.request(method, url, **kwargs)  # type: ignore[arg-type]


async def test_every_path_id_out_of_range_or_malformed_is_4xx(
    app_and_client: tuple[object, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    with_params = [(m, p) for m, p, _ in _operations(app) if PARAM.search(p)]
    assert len(with_params) >= 14  # the routes the probe knocked over are all here
    for method, path in with_params:
        for bad in BAD_IDS:
            url = PARAM.sub(bad, path)
            response = await _request(client, method, url)
            assert 400 <= response.status_code < 500, (method, url[:80], response.status_code)


async def test_every_id_query_parameter_out_of_range_is_4xx(
    app_and_client: tuple[object, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    checked = 0
    for method, path, operation in _operations(app):
        for parameter in operation.get("parameters", []):
            if (
                parameter["in"] != "query"
                or not parameter["name"].endswith("_id")
                or not _is_integer(parameter)
            ):
                continue
            for bad in BAD_IDS:
                response = await _request(
                    client, method, PARAM.sub("1", path), params={parameter["name"]: bad}
                )
                assert 400 <= response.status_code < 500, (method, path, parameter["name"], bad[:30])
                checked += 1
    assert checked >= 2 * len(BAD_IDS)  # at least /accounts?connection_id=…, /conversations?account_id=…


async def test_callback_path_with_a_bad_id_is_404_at_once(
    app_and_client: tuple[object, httpx.AsyncClient],
) -> None:
    _, client = app_and_client
    params = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "1", "echostr": "AAAA"}
    for bad in BAD_IDS:
        for method in ("GET", "POST"):
            response = await client.request(
                method,
                f"/wecom/callback/{bad}",
                params=params,
                content=b"<xml><Encrypt>AAAA</Encrypt></xml>" if method == "POST" else None,
            )
            assert response.status_code == 404, (method, bad[:30], response.status_code)


async def test_an_id_in_a_request_body_out_of_range_is_422(
    app_and_client: tuple[object, httpx.AsyncClient],
) -> None:
    _, client = app_and_client
    for bad in (2**31, 2**63, 10**23, 0, -1):
        response = await client.post("/api/v1/accounts", json={"connection_id": bad, "name": "售后"})
        assert response.status_code == 422, bad


async def test_every_integer_query_parameter_past_any_bound_is_4xx(
    app_and_client: tuple[object, httpx.AsyncClient],
) -> None:
    """Not only ids: `?offset=` past 64 bits overflowed SQLite's integer and `?min_minutes=` past
    timedelta's range overflowed the subtraction, both 500 (found by schemathesis)."""
    app, client = app_and_client
    checked = 0
    for method, path, operation in _operations(app):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query" or not _is_integer(parameter):
                continue
            for bad in (str(10**23), str(2**63)):
                response = await _request(
                    client, method, PARAM.sub("1", path), params={parameter["name"]: bad}
                )
                assert 400 <= response.status_code < 500, (method, path, parameter["name"], bad)
                checked += 1
    assert checked >= 5 * 2  # offset, limit, wecom_state, min_minutes and the ids at least
