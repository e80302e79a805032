"""One bad callback never fails another: genuine callbacks from the simulator keep getting 200
while other clients hammer the endpoint with out-of-range ids, forged signatures and callbacks
for a connection whose secrets Kefu cannot read (all over real HTTP, real crypto)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select, update

from kefu.accounts.models import Connection
from kefu.app import create_app
from kefu.ingest.models import CallbackEvent
from kefu.runtime import Runtime
from kefu.secretbox import SecretBox
from kefu.threaded_server import ThreadedServer
from tests.factories import kf_event_xml, make_connection, signed_callback
from tests.ingest.conftest import Wired, keys_of

pytestmark = [pytest.mark.db, pytest.mark.e2e]
HUGE_ID = "99999999999999999999999"


@pytest.fixture
def kefu(wired: Wired) -> Iterator[ThreadedServer]:
    settings = wired.rt.settings.model_copy(update={"poll_interval_s": 3600})
    with ThreadedServer(
        create_app(settings=settings, clock=wired.rt.clock, run_worker=True), name="kefu"
    ) as server:
        url = f"{server.url}/wecom/callback/{wired.connection.id}"
        saved = wired.sim.control(
            "PUT", f"corps/{wired.corp['corpid']}/callback", {"url": url, "verify": True}
        )
        assert saved["verified"] is True
        yield server


async def unreadable_connection(rt: Runtime) -> tuple[int, dict[str, str], bytes]:
    """A connection saved under another KEFU_SECRET_KEY, and a correctly signed callback for it:
    opening its secrets fails inside the recorder, so it must fail alone."""
    connection, keys = await make_connection(rt, name="rekeyed")
    other = SecretBox(b"a different secret key")
    async with rt.db.write() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(callback_token_enc=other.seal(keys.token), aes_key_enc=other.seal(keys.aes_key))
        )
    params, body = signed_callback(
        keys.crypto(), kf_event_xml(keys.corp_id, "wkRekeyed"), timestamp=str(int(rt.clock.timestamp()))
    )
    return connection.id, params, body


async def test_genuine_callbacks_all_get_200_while_others_attack(wired: Wired, kefu: ThreadedServer) -> None:
    rt = wired.rt
    # WeCom's own timeout (wecom-kf-api.md §2.6), not the fixture's 0.5 s: the attackers, the
    # simulator and Kefu share one Python process here, and so its GIL.
    wired.sim.control("PATCH", "settings", {"callback_timeout_s": 5.0})
    rekeyed_id, rekeyed_params, rekeyed_body = await unreadable_connection(rt)
    forged_params, forged_body = signed_callback(
        keys_of(wired.corp).crypto(),
        kf_event_xml(wired.corp["corpid"], wired.open_kfid),
        timestamp=str(int(rt.clock.timestamp())),
    )
    forged_params["msg_signature"] = forged_params["msg_signature"][::-1]
    genuine_url = f"{kefu.url}/wecom/callback/{wired.connection.id}"
    attacks = [
        ("POST", f"{kefu.url}/wecom/callback/{HUGE_ID}", forged_params, forged_body, 404),
        ("GET", f"{kefu.url}/wecom/callback/{HUGE_ID}", {**forged_params, "echostr": "AAAA"}, None, 404),
        ("POST", genuine_url, forged_params, forged_body, 403),
        ("POST", f"{kefu.url}/wecom/callback/{rekeyed_id}", rekeyed_params, rekeyed_body, 503),
    ]
    answers: Counter[tuple[str, int]] = Counter()
    stop = threading.Event()

    def attacker(offset: int) -> None:
        with httpx.Client(trust_env=False, timeout=10) as client:
            i = offset
            while not stop.is_set():
                method, url, params, body, _ = attacks[i % len(attacks)]
                response = client.request(method, url, params=params, content=body)
                answers[(url.rsplit("/", 1)[1] + f" {method}", response.status_code)] += 1
                i += 1

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(40):
            wired.customer_says(f"第{n}条")
            await asyncio.sleep(0.01)  # real time: spread the genuine callbacks over the attack
        assert wired.sim.flush_callbacks(timeout_s=30)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    deliveries = [d for d in wired.sim.control("GET", "callbacks")["deliveries"] if d["open_kfid"]]
    assert len(deliveries) == 40
    for delivery in deliveries:  # each genuine callback answered 200 at its first attempt
        assert [a["outcome"] for a in delivery["attempts"]] == ["HTTP 200"], delivery
    async with rt.db.read() as session:
        recorded = await session.scalar(
            select(func.count())
            .select_from(CallbackEvent)
            .where(CallbackEvent.connection_id == wired.connection.id)
        )
    assert recorded == 40
    # the attackers got their own answers, and only those
    expected = {(url.rsplit("/", 1)[1] + f" {method}", status) for method, url, _, _, status in attacks}
    assert set(answers) == expected, answers
    assert min(answers.values()) >= 10  # each kind often enough to share batches with genuine ones
