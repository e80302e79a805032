"""REST /api/v1/connections through the real ASGI app (httpx), bearer tokens, WeCom = simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from kefu.api.models import ApiToken
from kefu.api.tokens import create_token, revoke_token
from kefu.app import create_app
from kefu.runtime import Runtime
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, Corp

pytestmark = pytest.mark.db


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kefu.test"
    ) as client:
        yield client


@pytest.fixture
async def token(rt: Runtime) -> str:
    async with rt.db.write() as s:
        _, token = await create_token(s, name="tests", now=rt.clock.now())
    return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _body(corp: Corp, **overrides: object) -> dict:
    return {
        "name": "qinghe",
        "corp_id": corp.corpid,
        "secret": corp.secret,
        "callback_token": CB_TOKEN,
        "encoding_aes_key": AES_KEY,
    } | overrides


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer kefu_not-a-token"}, "invalid or revoked API token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing bearer token"),
    ],
)
async def test_401_without_a_valid_token(
    api: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    response = await api.get("/api/v1/connections", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized" and message in response.json()["message"]


async def test_revoked_token_is_refused_and_use_is_recorded(
    api: httpx.AsyncClient, rt: Runtime, token: str
) -> None:
    assert (await api.get("/api/v1/connections", headers=_auth(token))).status_code == 200
    async with rt.db.write() as s:
        assert (await s.scalars(select(ApiToken))).one().last_used_at == rt.clock.now()
        await revoke_token(s, "tests")
    assert (await api.get("/api/v1/connections", headers=_auth(token))).status_code == 401


async def test_crud_with_masked_secrets(api: httpx.AsyncClient, token: str, corp: Corp) -> None:
    created = await api.post(
        "/api/v1/connections", json=_body(corp, bootstrap="backfill"), headers=_auth(token)
    )
    assert created.status_code == 201, created.text
    connection = created.json()["connection"]
    cid = connection["id"]
    assert connection["callback_url"] == f"http://kefu.test/wecom/callback/{cid}"
    assert connection["bootstrap"] == "backfill" and connection["last_check_ok"] is True
    assert [a["open_kfid"] for a in connection["accounts"]] == corp.open_kfids
    assert created.json()["check"]["ok"] is True

    listed = await api.get("/api/v1/connections", headers=_auth(token))
    one = await api.get(f"/api/v1/connections/{cid}", headers=_auth(token))
    assert listed.json() == [one.json()]
    for response in (created, listed, one):
        for plaintext in (corp.secret, CB_TOKEN, AES_KEY):
            assert plaintext not in response.text
    assert one.json()["encoding_aes_key"] == "ab••••••FG"

    patched = await api.patch(f"/api/v1/connections/{cid}", json={"name": "qh"}, headers=_auth(token))
    assert patched.status_code == 200 and patched.json()["connection"]["name"] == "qh"
    assert patched.json()["check"] is None

    checked = await api.post(f"/api/v1/connections/{cid}/check", headers=_auth(token))
    assert checked.status_code == 200 and checked.json()["check"]["ok"] is True

    deleted = await api.delete(f"/api/v1/connections/{cid}", headers=_auth(token))
    assert deleted.status_code == 204
    gone = await api.get(f"/api/v1/connections/{cid}", headers=_auth(token))
    assert gone.status_code == 404 and gone.json() == {
        "error": "not_found",
        "message": f"no connection with id {cid}",
        "problem": "connection_not_found",
        "values": {"id": cid},
    }


async def test_errors_are_json_with_words(api: httpx.AsyncClient, token: str, corp: Corp) -> None:
    refused = await api.post("/api/v1/connections", json=_body(corp, secret="wrong"), headers=_auth(token))
    assert refused.status_code == 422
    assert refused.json()["error"] == "check_failed"
    assert refused.json()["check"]["problem"] == "wrong_secret"
    assert refused.json()["message"].startswith("Wrong secret")

    saved = await api.post(
        "/api/v1/connections", json=_body(corp, secret="wrong", check=False), headers=_auth(token)
    )
    assert saved.status_code == 201 and saved.json()["connection"]["last_check_ok"] is False

    duplicate = await api.post("/api/v1/connections", json=_body(corp), headers=_auth(token))
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["message"]

    invalid = await api.post(
        "/api/v1/connections", json=_body(corp, encoding_aes_key="short"), headers=_auth(token)
    )
    assert invalid.status_code == 422
    assert "43 letters or digits" in invalid.text


async def test_openapi_is_served_with_the_bearer_scheme(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/api/v1/openapi.json")).json()

    assert {
        "/api/v1/connections",
        "/api/v1/connections/{connection_id}",
        "/api/v1/connections/{connection_id}/check",
    } <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/connections"]["get"]["security"] == [{"HTTPBearer": []}]
