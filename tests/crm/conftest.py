"""CRM fixtures: a connection with an account, and an API client with a token named "alice"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.accounts.models import KfAccount
from kefu.runtime import Runtime
from tests.accounts.fixtures import acli, cli  # noqa: F401 — `kefu` in-process
from tests.factories import api_client, make_account, make_connection


@pytest.fixture
async def account(rt: Runtime) -> KfAccount:
    connection, _ = await make_connection(rt)
    return await make_account(rt, connection)


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt, token_name="alice") as client:
        yield client
