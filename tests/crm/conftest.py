"""CRM fixtures: a connection with an account whose servicers are alice and bob (the exclusive
servicers the cards name), and an API client with a token named "alice"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.accounts.models import KfAccount
from kefu.runtime import Runtime
from tests.accounts.fixtures import acli, cli  # noqa: F401 — `kefu` in-process
from tests.factories import add_servicers, api_client, make_account, make_connection

SERVICERS = ("alice", "bob")


@pytest.fixture
async def account(rt: Runtime) -> KfAccount:
    connection, _ = await make_connection(rt)
    account = await make_account(rt, connection)
    await add_servicers(rt, account.id, SERVICERS)
    return account


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt, token_name="alice") as client:
        yield client
