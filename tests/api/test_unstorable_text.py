"""Text no database column can store — NUL, or an unpaired surrogate (valid JSON, not UTF-8) — is
refused with a 422 before any handler runs: PostgreSQL refused it with a 500 deep inside."""

from __future__ import annotations

import httpx
import pytest

from tests.crm.conftest import api  # noqa: F401 — an API client with a token

pytestmark = pytest.mark.db
UNSTORABLE = "text holds a character no database column can store"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\\u00f8\\u0000"}',
        b'{"name": "ok", "custom_fields": {"k": ["\\udaea"]}}',
        b'{"name": "ok", "custom_fields": {"\\u0000": 1}}',
    ],
)
async def test_a_body_with_unstorable_text_is_a_422(api: httpx.AsyncClient, body: bytes) -> None:  # noqa: F811
    response = await api.post(
        "/api/v1/crm/customers", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert UNSTORABLE in response.json()["message"]
    assert (await api.get("/api/v1/crm/customers")).json() == []


async def test_nul_in_the_query_or_path_is_a_422_and_ordinary_text_is_kept(api: httpx.AsyncClient) -> None:  # noqa: F811
    assert (await api.get("/api/v1/crm/customers", params={"q": "a\x00b"})).status_code == 422
    assert (
        await api.put("/api/v1/crm/customers/by-external-id/a%00b", json={"name": "x"})
    ).status_code == 422
    body = {"name": "青禾家电 \\u 😀", "custom_fields": {"备注": "换行\n和\t制表"}}
    created = await api.post("/api/v1/crm/customers", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "青禾家电 \\u 😀"


async def test_an_id_in_a_body_past_the_database_integer_is_a_422(api: httpx.AsyncClient) -> None:  # noqa: F811
    """PostgreSQL's ids are 32-bit: a larger one in a body was a 500 ("integer out of range")."""
    big = {"connection_id": 2**40, "external_userid": "wmX"}
    assert (await api.post("/api/v1/crm/wechat-customers", json=big)).status_code == 422
    assert (
        await api.post("/api/v1/crm/contacts", json={"name": "x", "customer_id": 2**40})
    ).status_code == 422


async def test_a_json_body_that_is_not_utf8_is_a_422_saying_so(api: httpx.AsyncClient) -> None:  # noqa: F811
    """It was FastAPI's 400 "There was an error parsing the body", which names no cause."""
    body = '{"name": "青禾家电"}'.encode("gbk")
    response = await api.post(
        "/api/v1/crm/customers", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "invalid",
        "message": "the body is not UTF-8 (byte 10 is not): send JSON as UTF-8",
    }
    assert (await api.get("/api/v1/crm/customers")).json() == []
