"""CRM fixtures: a connection with an account, and an API client with a token named "alice"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.accounts.models import KfAccount
from kefu.api.tokens import create_token
from kefu.app import create_app
from kefu.runtime import Runtime
from tests.accounts.fixtures import acli, cli  # noqa: F401 — `kefu` in-process
from tests.factories import make_account, make_connection


@pytest.fixture
async def account(rt: Runtime) -> KfAccount:
    connection, _ = await make_connection(rt)
    return await make_account(rt, connection)


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with rt.db.write() as s:
        _, token = await create_token(s, name="alice", now=rt.clock.now())
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://kefu.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client
