"""Every request body has a limit (`kefu.api.body_limit.MAX_BODY_BYTES`: an import file with the
console's form around it), the callback's lower one through the same code. An authenticated API
client or a signed-in console user could send a body of any size, read whole into memory (or
spooled to disk: a multipart upload) before anything looked at it. Over the limit: 413 in the
API's error shape (the console's page: tests/console/test_unstorable_input.py), nothing stored — and a body
without a Content-Length is not read past the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from kefu.api.body_limit import MAX_BODY_BYTES, MAX_IMPORT_BYTES
from kefu.app import create_app
from kefu.crm.models import CrmCustomer
from kefu.runtime import Runtime
from tests.crm.conftest import api  # noqa: F401 — an API client with a token

pytestmark = pytest.mark.db
CUSTOMERS = "/api/v1/crm/customers"
JSON = {"Content-Type": "application/json"}


def _padded_card(size: int) -> bytes:
    """A valid card (JSON allows the padding) of exactly `size` bytes."""
    card = b'{"name": "\xe9\x9d\x92\xe7\xa6\xbe"}'
    return card + b" " * (size - len(card))


async def _customers(rt: Runtime) -> int:
    async with rt.db.read() as session:
        return await session.scalar(select(func.count()).select_from(CrmCustomer)) or 0


async def test_an_api_body_over_the_limit_is_a_413_in_the_api_shape(
    rt: Runtime,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    over = await api.post(CUSTOMERS, content=_padded_card(MAX_BODY_BYTES + 1), headers=JSON)
    assert over.status_code == 413, over.text
    body = over.json()
    assert (body["error"], body["problem"]) == ("too_large", "body_too_large")
    assert body["values"] == {"limit_mb": 21, "import_mb": 20}
    assert (
        body["message"]
        == "the request body is over 21 MB, the most Kefu reads (an import file is 20 MB at most)"
    )
    assert await _customers(rt) == 0
    at_the_limit = await api.post(CUSTOMERS, content=_padded_card(MAX_BODY_BYTES), headers=JSON)
    assert at_the_limit.status_code == 201, at_the_limit.text


async def test_a_chunked_api_body_is_not_read_past_the_limit(
    rt: Runtime,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        nonlocal sent
        yield b'{"name": "x", "notes": "'
        for _ in range(MAX_BODY_BYTES // 65536 * 4):
            sent += 1
            yield b"A" * 65536

    over = await api.post(CUSTOMERS, content=endless(), headers=JSON)
    assert over.status_code == 413 and over.json()["error"] == "too_large"
    assert sent <= MAX_BODY_BYTES // 65536 + 1  # stopped at the limit, not after the whole body
    assert await _customers(rt) == 0


async def test_an_import_over_the_limit_is_a_413_and_one_over_the_file_limit_a_422(
    rt: Runtime,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    file_over = b"external_id,name\n" + b"#" * MAX_IMPORT_BYTES
    refused = await api.post("/api/v1/crm/import/customers", content=file_over)
    assert refused.status_code == 422 and refused.json()["message"] == "the file is over 20 MB"
    body_over = file_over + b"#" * (MAX_BODY_BYTES - len(file_over) + 1)
    assert (await api.post("/api/v1/crm/import/customers", content=body_over)).status_code == 413


async def test_without_a_token_a_large_body_is_still_a_401(rt: Runtime) -> None:
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test") as anon:
        answer = await anon.post(CUSTOMERS, content=_padded_card(MAX_BODY_BYTES + 1), headers=JSON)
    assert answer.status_code == 401
