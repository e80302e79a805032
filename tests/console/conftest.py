"""Console fixtures: Kefu's app over the real ASGI stack, users of each role, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from kefu.api import users
from kefu.app import create_app
from kefu.runtime import Runtime

PASSWORD = "correct horse 1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SignIn = Callable[[str], Awaitable[httpx.AsyncClient]]


def csrf_of(page: httpx.Response) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found, f"no csrf_token field on {page.url}"
    return found.group(1)


async def add_user(rt: Runtime, username: str, role: str, wecom_userid: str | None = None) -> None:
    async with rt.db.write() as session:
        await users.create_user(
            session, username=username, password=PASSWORD, role=role, wecom_userid=wecom_userid
        )


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page), "next": "/console/"},
    )


@pytest.fixture
async def console(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous browser-like client (keeps cookies, does not follow redirects)."""
    app = create_app(runtime=rt, run_worker=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as client:
        yield client


@pytest.fixture
async def signed_in(rt: Runtime) -> AsyncIterator[SignIn]:
    """sign_in(role) → a client signed in as a fresh user of that role (a servicer is `zhangsan`)."""
    app = create_app(runtime=rt, run_worker=False)
    clients: list[httpx.AsyncClient] = []

    async def sign_in(role: str) -> httpx.AsyncClient:
        username = f"{role}{len(clients)}"
        await add_user(rt, username, role, "zhangsan" if role == "servicer" else None)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test")
        clients.append(client)
        answer = await login(client, username)
        assert answer.status_code == 303, answer.text
        return client

    yield sign_in
    for client in clients:
        await client.aclose()
