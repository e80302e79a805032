"""Fixtures of the page tests: the demo wiring (Kefu + simulator threads on free loopback
ports, a temporary data dir) and headless Chromium from Debian (never `playwright install`)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.demo import Demo
from kefu.http_client import HttpClient
from kefu.wecom.client import WeComClient
from kefu.wecom.tokens import MemoryTokenCache

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """What `kefu demo` starts, in this process: the seeded simulator and Kefu wired to it.

    These tests drive the simulator's WeCom-app page (take from the pool, transfer, end), so the
    account routes by its exclusive servicers only — none are set: every customer waits in the
    pool for a servicer to take them by hand, instead of Kefu's dispatch racing the page."""
    with Demo(data_dir=tmp_path_factory.mktemp("demo"), port=0, sim_port=0) as started:
        assert started.keys is not None
        kefu = started.urls["Kefu health"].removesuffix("/healthz")
        auth = {"Authorization": f"Bearer {started.keys.api_token}"}
        (account,) = httpx.get(f"{kefu}/api/v1/accounts", headers=auth).json()
        url = f"{kefu}/api/v1/accounts/{account['id']}/settings"
        settings = httpx.get(url, headers=auth).json()
        settings["routing"] = {"rules": [{"rule": "exclusive"}]}
        httpx.put(url, headers=auth, json=settings).raise_for_status()
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        reason = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile per test, Chinese locale, a laptop-sized window."""
    made = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 820})
    made.set_default_timeout(15_000)
    yield made
    made.close()


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from a sync test (Playwright's sync API owns this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def wecom_client(demo: Demo, http: HttpClient) -> WeComClient:
    """Kefu's own WeCom client, on the demo corp's credentials, against the simulator."""
    assert demo.simulator is not None and demo.keys is not None
    return WeComClient(
        base_url=demo.simulator.url,
        corp_id=demo.keys.corpid,
        secret=demo.keys.corp_secret,
        http=http,
        token_cache=MemoryTokenCache(),
        clock=demo.clock,
    )


def to_pool(demo: Demo, external_userid: str) -> None:
    """Put the customer's session in the waiting pool the way Kefu will: service_state/trans to 2."""
    assert demo.keys is not None
    open_kfid = demo.keys.open_kfid

    async def trans() -> None:
        async with HttpClient(timeout_s=10.0) as http:
            client = wecom_client(demo, http)
            state = await client.service_state_get(open_kfid=open_kfid, external_userid=external_userid)
            if state.state in (0, 1):  # Kefu may already have moved it (once it routes)
                await client.service_state_trans(
                    open_kfid=open_kfid, external_userid=external_userid, service_state=2
                )

    run_async(trans())


def customer_writes(demo: Demo, context: Any, text: str) -> Any:
    """A new customer page (the simulator's 客户) that enters the demo account's session and
    sends `text`; returns the page."""
    customer = context.new_page()
    customer.goto(demo.urls["Customer page (客户)"])
    customer.wait_for_selector("#customer option", state="attached")
    customer.click("#enter")
    customer.fill("#text", text)
    customer.click("#send")
    return customer
