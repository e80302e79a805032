"""Fixtures shared by the connection, API and config tests (imported by their conftest.py).

`corp`: a corp in the WeCom simulator with two manageable kf accounts and one the app
may not manage; it points the test's settings (and so `rt` and `cli`) at the simulator.
`cli(...)` (`acli` in async tests): runs `kefu` in-process (typer's CliRunner) with
KEFU_* variables built from the test's settings at call time, against the test's database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from kefu.accounts import check as check_module
from kefu.cli import app
from kefu.settings import Settings, get_settings
from kefu.simulator import SimulatorServer

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CB_TOKEN = "cbToken123"
SECRET_KEY = "test-secret-key"  # the `settings` fixture's key


@pytest.fixture(autouse=True)
def _no_check_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check retries an unreachable WeCom after pauses; tests keep the retries, not the pauses."""
    monkeypatch.setattr(check_module, "CHECK_RETRY_BASE_S", 0.0)


@dataclass
class Corp:
    corpid: str
    secret: str
    open_kfids: list[str]
    unmanaged_kfid: str
    names: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def corp(simulator: SimulatorServer, settings: Settings) -> Corp:
    settings.wecom_api_base = simulator.url
    view = simulator.control("POST", "corps", json={"name": "青禾家电"})
    corpid = view["corpid"]
    names = {}
    for name, authorized in (("售后", True), ("售前", True), ("内部", False)):
        account = simulator.control(
            "POST", f"corps/{corpid}/accounts", json={"name": name, "authorized": authorized}
        )
        names[account["open_kfid"]] = name
    kfids = list(names)
    return Corp(
        corpid=corpid, secret=view["secret"], open_kfids=kfids[:2], unmanaged_kfid=kfids[2], names=names
    )


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "KEFU_ENV": "development",
        "KEFU_DATABASE_URL": settings.database_url,
        "KEFU_SECRET_KEY": SECRET_KEY,
        "KEFU_WECOM_API_BASE": settings.wecom_api_base,
        "KEFU_PUBLIC_URL": settings.public_url,
    }


CliFn = Callable[..., Result]
ACliFn = Callable[..., Awaitable[Result]]


@pytest.fixture
def cli(settings: Settings) -> CliFn:
    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        get_settings.cache_clear()  # settings are read once per process; each invoke is a "process"
        try:
            return CliRunner().invoke(app, list(args), input=input, env={**cli_env(settings), **(env or {})})
        finally:
            get_settings.cache_clear()

    return invoke


@pytest.fixture
def acli(cli: CliFn) -> ACliFn:
    """`cli` for async tests: the command runs its own event loop, so in a thread."""

    async def invoke(*args: str, **kwargs: Any) -> Result:
        return await asyncio.to_thread(cli, *args, **kwargs)

    return invoke
