"""Fixtures of the WeCom client tests: a scripted WeCom-like server on loopback and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from kefu.clock import Clock
from kefu.http_client import HttpClient
from kefu.wecom.client import WeComClient
from kefu.wecom.tokens import MemoryTokenCache, TokenCache
from tests.wecom.scripted_server import CORP_ID, SECRET, ScriptedWeCom, ServerThread


@pytest.fixture(scope="session")
def _scripted_server() -> Iterator[tuple[ScriptedWeCom, str]]:
    app = ScriptedWeCom()
    thread = ServerThread(app)
    thread.start()
    try:
        yield app, thread.url
    finally:
        thread.stop()


@pytest.fixture
def wecom(_scripted_server: tuple[ScriptedWeCom, str]) -> ScriptedWeCom:
    app, _url = _scripted_server
    app.reset()
    return app


@pytest.fixture
def wecom_url(_scripted_server: tuple[ScriptedWeCom, str]) -> str:
    return _scripted_server[1]


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(timeout_s=5.0)
    yield client
    await client.close()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff delays the client asked for (the injected sleep records instead of waiting)."""
    return []


@pytest.fixture
def make_client(
    wecom: ScriptedWeCom, wecom_url: str, http: HttpClient, clock: Clock, sleeps: list[float]
) -> Callable[..., WeComClient]:
    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def build(*, token_cache: TokenCache | None = None, **overrides: Any) -> WeComClient:
        kwargs: dict[str, Any] = {
            "base_url": wecom_url,
            "corp_id": CORP_ID,
            "secret": SECRET,
            "http": http,
            "token_cache": token_cache or MemoryTokenCache(),
            "clock": clock,
            "sleep": record_sleep,
            "retry_base_s": 0.5,
        }
        kwargs.update(overrides)
        return WeComClient(**kwargs)

    return build


@pytest.fixture
def client(make_client: Callable[..., WeComClient]) -> WeComClient:
    return make_client()
