"""Token caches: in memory, and sealed on the connection row (shared by every process)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from kefu.accounts.service import wecom_client
from kefu.accounts.token_cache import ConnectionTokenCache
from kefu.runtime import Runtime
from kefu.secretbox import SecretBox
from kefu.wecom.client import WeComClient
from kefu.wecom.tokens import MemoryTokenCache
from tests.factories import ConnectionKeys, make_connection, random_aes_key
from tests.wecom.scripted_server import CORP_ID, SECRET, ScriptedWeCom

TOKEN = "ACCESS_TOKEN_" + "q" * 300  # tokens may be up to 512 bytes
EXPIRES = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


async def test_memory_cache_invalidates_only_its_own_token() -> None:
    cache = MemoryTokenCache()
    assert await cache.get() is None
    await cache.put("A", EXPIRES)
    await cache.invalidate("older")
    assert await cache.get() == ("A", EXPIRES)
    await cache.invalidate("A")
    assert await cache.get() is None


@pytest.mark.db
async def test_connection_cache_round_trip_sealed_at_rest(rt: Runtime) -> None:
    connection, _keys = await make_connection(rt)
    cache = ConnectionTokenCache(rt.db, connection.id, rt.secrets)
    assert await cache.get() is None
    await cache.put(TOKEN, EXPIRES)
    assert await cache.get() == (TOKEN, EXPIRES)

    async with rt.db.read() as session:
        stored = (
            await session.execute(
                text("SELECT access_token_enc FROM connections WHERE id = :id"), {"id": connection.id}
            )
        ).scalar_one()
    assert TOKEN not in stored and "ACCESS_TOKEN" not in stored  # encrypted at rest
    assert rt.secrets.open(stored) == TOKEN


@pytest.mark.db
async def test_connection_cache_invalidate_keeps_a_newer_token(rt: Runtime) -> None:
    connection, _keys = await make_connection(rt)
    cache = ConnectionTokenCache(rt.db, connection.id, rt.secrets)
    await cache.put("NEWER", EXPIRES)
    await cache.invalidate("OLD")  # a caller that saw OLD rejected must not drop NEWER
    assert await cache.get() == ("NEWER", EXPIRES)
    await cache.invalidate("NEWER")
    assert await cache.get() is None


@pytest.mark.db
async def test_token_sealed_under_another_key_is_a_miss(rt: Runtime) -> None:
    connection, _keys = await make_connection(rt)
    await ConnectionTokenCache(rt.db, connection.id, SecretBox(b"an-older-secret-key")).put("T", EXPIRES)
    cache = ConnectionTokenCache(rt.db, connection.id, rt.secrets)
    assert await cache.get() is None
    await cache.put("T2", EXPIRES)
    assert await cache.get() == ("T2", EXPIRES)


@pytest.mark.db
async def test_clients_share_the_token_through_the_database(
    rt: Runtime, make_client: Callable[..., WeComClient], wecom: ScriptedWeCom
) -> None:
    connection, _keys = await make_connection(rt)
    # Two clients with their own cache objects, as two jobs or two processes would have.
    first = make_client(token_cache=ConnectionTokenCache(rt.db, connection.id, rt.secrets))
    second = make_client(token_cache=ConnectionTokenCache(rt.db, connection.id, rt.secrets))
    await first.account_list()
    await second.account_list()
    assert len(wecom.calls("gettoken")) == 1

    wecom.revoke_tokens()
    await second.account_list()  # 42001 → invalidate in the DB → one refresh
    await first.account_list()  # reads the refreshed token from the DB
    assert len(wecom.calls("gettoken")) == 2
    tokens = [c.query["access_token"] for c in wecom.calls("kf/account/list")]
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3] == tokens[4]


@pytest.mark.db
async def test_connection_client_uses_the_saved_secret_and_caches_on_the_row(
    rt: Runtime, wecom: ScriptedWeCom, wecom_url: str
) -> None:
    connection, _keys = await make_connection(
        rt, keys=ConnectionKeys(CORP_ID, SECRET, "tok", random_aes_key())
    )
    rt.settings = rt.settings.model_copy(update={"wecom_api_base": wecom_url})
    client = wecom_client(rt, connection)
    await client.account_list()
    (gettoken,) = wecom.calls("gettoken")
    assert gettoken.query == {"corpid": CORP_ID, "corpsecret": SECRET}
    cached = await ConnectionTokenCache(rt.db, connection.id, rt.secrets).get()
    assert cached is not None
    assert cached[0] == wecom.calls("kf/account/list")[0].query["access_token"]
    assert cached[1] == rt.clock.now() + timedelta(seconds=7200)


@pytest.mark.db
async def test_one_fetch_claim_at_a_time_and_a_dead_ones_runs_out_on_database_time(rt: Runtime) -> None:
    connection, _keys = await make_connection(rt)
    first = ConnectionTokenCache(rt.db, connection.id, rt.secrets)
    second = ConnectionTokenCache(rt.db, connection.id, rt.secrets)
    assert await first.claim_fetch(0.5)
    assert not await second.claim_fetch(0.5)
    rt.clock.advance(timedelta(hours=3))  # the domain clock does not end a claim
    assert not await second.claim_fetch(0.5)
    await asyncio.sleep(0.6)  # its holder died: the claim runs out in real time
    assert await second.claim_fetch(0.5)
    await second.put("T", EXPIRES)  # storing the token ends the claim
    assert await first.claim_fetch(0.5)
    await first.release_fetch()
    assert await second.claim_fetch(0.5)


class _AnotherProcessFinishesFirst(ConnectionTokenCache):
    """A real row cache; just before this process's claim, another process stores its token and
    ends its claim — the interleaving that let two processes starting together fetch twice."""

    def __init__(self, other: ConnectionTokenCache, token: str, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._other = other
        self._token = token

    async def claim_fetch(self, for_s: float) -> bool:
        await self._other.put(self._token, EXPIRES)
        return await super().claim_fetch(for_s)


@pytest.mark.db
async def test_a_token_stored_between_our_read_and_our_claim_is_used_not_fetched_again(
    rt: Runtime, make_client: Callable[..., WeComClient], wecom: ScriptedWeCom
) -> None:
    connection, _keys = await make_connection(rt)
    others_token = await make_client().get_token()  # fetched by the other process
    other = ConnectionTokenCache(rt.db, connection.id, rt.secrets)
    cache = _AnotherProcessFinishesFirst(other, others_token, rt.db, connection.id, rt.secrets)
    await make_client(token_cache=cache).account_list()
    assert len(wecom.calls("gettoken")) == 1
    assert wecom.calls("kf/account/list")[0].query["access_token"] == others_token
    assert await other.claim_fetch(0.5)  # the claim we took to look was given back
