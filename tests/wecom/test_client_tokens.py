"""Access token: cached until 60 s before expiry, single-flight, refreshed once on 40014/42001."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from kefu.clock import Clock
from kefu.wecom.client import WeComClient
from kefu.wecom.errors import WeComError
from kefu.wecom.tokens import MemoryTokenCache
from tests.wecom.scripted_server import Reply, ScriptedWeCom, wecom_error

KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"


async def test_token_is_cached_until_60s_before_expiry(
    client: WeComClient, wecom: ScriptedWeCom, clock: Clock
) -> None:
    first = await client.get_token()
    await client.account_list()
    clock.advance(timedelta(seconds=7200 - 61))
    assert await client.get_token() == first
    assert len(wecom.calls("gettoken")) == 1
    clock.advance(timedelta(seconds=2))  # now inside the last minute
    second = await client.get_token()
    assert second != first
    assert len(wecom.calls("gettoken")) == 2


async def test_force_fetches_a_new_token(client: WeComClient, wecom: ScriptedWeCom) -> None:
    first = await client.get_token()
    assert await client.get_token(force=True) != first
    assert len(wecom.calls("gettoken")) == 2


async def test_concurrent_callers_share_one_gettoken(
    make_client: Callable[..., WeComClient], wecom: ScriptedWeCom
) -> None:
    cache = MemoryTokenCache()
    # Two client objects (two jobs of one process) on one cache, twenty calls at once.
    clients = [make_client(token_cache=cache), make_client(token_cache=cache)]
    await asyncio.gather(*(clients[n % 2].account_list() for n in range(20)))
    assert len(wecom.calls("gettoken")) == 1
    assert len(wecom.calls("kf/account/list")) == 20
    assert len({c.query["access_token"] for c in wecom.calls("kf/account/list")}) == 1


async def test_expired_token_one_refresh_then_success(client: WeComClient, wecom: ScriptedWeCom) -> None:
    old = await client.get_token()
    wecom.revoke_tokens()  # WeCom expired it early: the next use answers 42001
    await client.account_list()
    calls = wecom.calls("kf/account/list")
    assert len(calls) == 2 and len(wecom.calls("gettoken")) == 2
    assert calls[0].query["access_token"] == old
    assert calls[1].query["access_token"] != old


async def test_concurrent_rejections_share_one_refresh(client: WeComClient, wecom: ScriptedWeCom) -> None:
    await client.get_token()
    wecom.revoke_tokens()
    await asyncio.gather(*(client.account_list() for _ in range(10)))
    assert len(wecom.calls("gettoken")) == 2  # the first fetch and ONE refresh


@pytest.mark.parametrize(("code", "head"), [(40014, "invalid access_token"), (41001, "access_token missing")])
async def test_token_errcodes_refresh_and_retry_once(
    client: WeComClient, wecom: ScriptedWeCom, code: int, head: str
) -> None:
    wecom.script("kf/account/list", Reply(wecom_error(code, head)))
    assert await client.account_list() == []
    assert len(wecom.calls("kf/account/list")) == 2
    assert len(wecom.calls("gettoken")) == 2


async def test_a_second_42001_after_the_refresh_surfaces(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script(
        "kf/account/list",
        Reply(wecom_error(42001, "access_token expired")),
        Reply(wecom_error(42001, "access_token expired")),
    )
    with pytest.raises(WeComError) as caught:
        await client.account_list()
    assert caught.value.errcode == 42001 and caught.value.endpoint == "kf/account/list"
    # No loop: one call, one refresh, one retry.
    assert len(wecom.calls("kf/account/list")) == 2
    assert len(wecom.calls("gettoken")) == 2


async def test_wrong_secret_is_surfaced_with_a_hint_and_not_retried(
    make_client: Callable[..., WeComClient], wecom: ScriptedWeCom
) -> None:
    client = make_client(secret="not-the-secret")
    with pytest.raises(WeComError) as caught:
        await client.account_list()
    error = caught.value
    assert (error.errcode, error.endpoint) == (40001, "gettoken")
    assert error.hint is not None and "secret" in error.hint.lower()
    assert str(error) == f"WeCom gettoken errcode 40001: invalid credential — {error.hint}"
    assert "hint:" not in str(error) and "from ip" not in str(error)
    assert len(wecom.calls("gettoken")) == 1
    assert wecom.calls("kf/account/list") == []


async def test_wrong_corpid_and_untrusted_ip_hints(
    make_client: Callable[..., WeComClient], wecom: ScriptedWeCom
) -> None:
    with pytest.raises(WeComError) as caught:
        await make_client(corp_id="wwnotacorp").get_token()
    assert caught.value.errcode == 40013 and "corp ID" in (caught.value.hint or "")

    wecom.script("gettoken", Reply(wecom_error(60020, "not allow to access from your ip")))
    with pytest.raises(WeComError) as caught:
        await make_client().get_token()
    assert caught.value.errcode == 60020 and "trusted IP" in (caught.value.hint or "")
    assert len(wecom.calls("gettoken")) == 2


async def test_gettoken_busy_is_retried_with_backoff(
    client: WeComClient, wecom: ScriptedWeCom, sleeps: list[float]
) -> None:
    wecom.script("gettoken", Reply(wecom_error(-1, "system busy")), Reply(wecom_error(-1, "system busy")))
    await client.account_list()
    assert len(wecom.calls("gettoken")) == 3
    assert sleeps == [0.5, 1.0]
