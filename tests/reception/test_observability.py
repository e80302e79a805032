"""/metrics and /readyz of a real Kefu served over HTTP, after real traffic through the simulator.

Counters are this process's own (the served app runs in the test's process), so they are
compared before and after the traffic; the database's figures are read as they stand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from structlog.testing import capture_logs

from kefu import metrics
from kefu.accounts.models import KfAccount
from kefu.app import create_app
from kefu.jobs import store
from kefu.reception.models import Conversation
from kefu.runtime import Runtime
from kefu.threaded_server import ThreadedServer
from tests.reception.conftest import World, WorldFactory

pytestmark = [pytest.mark.db, pytest.mark.e2e]

TOKEN = "scrape-me-please"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@contextmanager
def serving(rt: Runtime, *, run_worker: bool = False, **settings: Any) -> Iterator[ThreadedServer]:
    """Kefu in a thread with its own engine, on the test's database and clock."""
    changed = rt.settings.model_copy(
        update={"metrics_token": SecretStr(TOKEN), "poll_interval_s": 3600, **settings}
    )
    with ThreadedServer(create_app(settings=changed, clock=rt.clock, run_worker=run_worker)) as server:
        yield server


def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A plain blocking request: Kefu answers from its own thread and event loop."""
    return httpx.request(method, url, **kwargs)


def scrape(server: ThreadedServer) -> Samples:
    response = call("GET", f"{server.url}/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: object) -> float:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


def wire_callbacks(world: World, server: ThreadedServer) -> None:
    url = f"{server.url}/wecom/callback/{world.account.connection_id}"
    saved = world.sim.control("PUT", f"corps/{world.corp['corpid']}/callback", {"url": url, "verify": True})
    assert saved["verified"] is True


async def test_metrics_count_callbacks_wecom_calls_and_ai_and_read_the_database(
    make_world: WorldFactory,
) -> None:
    world = await make_world(kb=True)
    rt, account = world.rt, world.account.id
    with serving(rt) as kefu:
        wire_callbacks(world, kefu)
        before = scrape(kefu)
        world.sim.control("POST", "faults", {"endpoint": "kf/send_msg", "errcodes": [45009], "count": 1})
        world.says("怎么退货")  # a signed callback to Kefu, then the pull, the AI, the send (refused)
        assert world.sim.flush_callbacks()
        forged = call(
            "POST",
            f"{kefu.url}/wecom/callback/{world.account.connection_id}",
            params={"msg_signature": "0" * 40, "timestamp": str(int(rt.clock.timestamp())), "nonce": "1"},
            content=b"<xml><Encrypt>aGVsbG8=</Encrypt></xml>",
        )
        assert forged.status_code == 403
        assert await world.run_due() >= 3  # sync, process, deliver (which waits for its retry)
        after = scrape(kefu)

        def delta(name: str, **labels: object) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("kefu_callbacks_received_total", method="POST") == 2
        assert delta("kefu_callbacks_rejected_total", reason="signature") == 1
        assert delta("kefu_wecom_calls_total", endpoint="kf/sync_msg", errcode=0) == 1
        assert delta("kefu_wecom_calls_total", endpoint="kf/send_msg", errcode=45009) == 1
        assert delta("kefu_wecom_calls_total", endpoint="kf/send_msg", errcode=0) == 0
        assert delta("kefu_wecom_call_seconds_count", endpoint="kf/send_msg") == 1
        assert delta("kefu_ai_answer_seconds_count", outcome="answered") == 1

        conversation = await world.conversation()
        assert value(after, "kefu_sessions", account_id=account, state=conversation.wecom_state) == 1
        assert value(after, "kefu_jobs", status="todo") == 1  # the send, waiting 2 s for its retry
        assert value(after, "kefu_jobs", status="doing") == 0
        assert value(after, "kefu_jobs", status="failed") == 0
        assert value(after, "kefu_jobs_oldest_due_age_seconds") == 0
        assert value(after, "kefu_sync_lag_seconds", account_id=account) == 0
        assert value(after, "kefu_database_up") == 1

        rt.clock.advance(timedelta(seconds=10))
        now = rt.clock.now()
        async with rt.db.write() as session:
            session.add(
                Conversation(
                    account_id=account,
                    external_userid="wmPooledCustomer",
                    wecom_state=2,
                    queued_at=now - timedelta(seconds=45),
                    created_at=now,
                    updated_at=now,
                )
            )
        later = scrape(kefu)
        assert value(later, "kefu_jobs_oldest_due_age_seconds") == 8  # due 2 s after the refusal
        assert value(later, "kefu_sync_lag_seconds", account_id=account) == 10
        assert value(later, "kefu_pool_length", account_id=account) == 1
        assert value(later, "kefu_pool_longest_wait_seconds", account_id=account) == 45
        assert value(later, "kefu_sessions", account_id=account, state=2) == 1
        assert value(later, "kefu_workers_alive") == 0  # none runs: the test runs the jobs
        assert value(later, "kefu_worker_heartbeat_age_seconds") == -1


async def test_metrics_need_their_own_bearer_token(rt: Runtime) -> None:
    with serving(rt) as kefu:
        assert call("GET", f"{kefu.url}/metrics").status_code == 401
        wrong = call("GET", f"{kefu.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    with serving(rt, metrics_token=None) as kefu:
        assert call("GET", f"{kefu.url}/metrics", headers=AUTH).status_code == 404  # not configured


def readyz(server: ThreadedServer) -> tuple[int, dict[str, Any]]:
    response = call("GET", f"{server.url}/readyz")
    return response.status_code, response.json()


async def until_ready(server: ThreadedServer, timeout_s: float = 15.0) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    answer = readyz(server)
    while answer[0] != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # real time: Kefu's worker runs in the server's thread
        answer = readyz(server)
    return answer


async def synced_at(rt: Runtime, account_id: int) -> Any:
    async with rt.db.read() as session:
        account = await session.get(KfAccount, account_id)
    return account.last_synced_at if account else None


async def test_readyz_fails_on_sync_lag_and_recovers_after_a_pull(make_world: WorldFactory) -> None:
    world = await make_world()
    rt = world.rt
    with serving(rt, run_worker=True, ready_max_sync_lag_s=300, ready_worker_max_age_s=3600) as kefu:
        status, body = await until_ready(kefu)  # the worker's first heartbeat
        assert status == 200, body
        assert body == {
            "status": "ready",
            "checks": {"database": "ok", "worker": "ok", "sync": "ok"},
            "failing": [],
        }
        # Kefu pulls every account when it starts: let that (empty) pull land first.
        deadline = time.monotonic() + 15
        pulled = await synced_at(rt, world.account.id)
        while pulled is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # real time: the server's worker runs in its thread
            pulled = await synced_at(rt, world.account.id)
        assert await synced_at(rt, world.account.id) == rt.clock.now()
        rt.clock.advance(timedelta(seconds=400))  # no pull for 400 s
        status, body = readyz(kefu)
        assert status == 503 and body["status"] == "unready" and body["failing"] == ["sync"]
        assert f"account {world.account.id}: 400 s" in body["checks"]["sync"]
        wire_callbacks(world, kefu)
        world.says("在吗")  # the callback wakes a pull, which Kefu's own worker runs
        status, body = await until_ready(kefu)
        assert status == 200, body


async def test_readyz_fails_without_a_live_worker(rt: Runtime) -> None:
    with serving(rt, ready_worker_max_age_s=60) as kefu:
        status, body = readyz(kefu)
        assert status == 503 and body["failing"] == ["worker"]
        assert body["checks"]["worker"] == "no worker has a heartbeat"
        # A worker elsewhere (`kefu worker`) that stopped renewing its heartbeat two minutes ago:
        await store.heartbeat(rt.db, worker_id="other-host:42", now=rt.clock.now() - timedelta(seconds=120))
        status, body = readyz(kefu)
        assert status == 503 and body["failing"] == ["worker"]
        assert body["checks"]["worker"] == "last worker heartbeat 120 s ago (limit 60 s)"
        await store.heartbeat(rt.db, worker_id="other-host:42", now=rt.clock.now())
        assert readyz(kefu)[0] == 200


async def test_readyz_fails_when_the_database_does_not_answer(rt: Runtime, tmp_path: Any) -> None:
    unreachable = (
        "postgresql+psycopg://postgres@127.0.0.1:1/kefu"
        if rt.db.dialect == "postgresql"
        else f"sqlite:///{tmp_path}/no/such/dir/kefu.db"
    )
    with serving(rt, database_url=unreachable) as kefu:
        status, body = readyz(kefu)
        assert status == 503 and body["failing"] == ["database"]
        assert body["checks"]["database"].startswith("unreachable: ")
        health = call("GET", f"{kefu.url}/healthz")  # liveness: the process is up all the same
        assert health.status_code == 200 and health.json()["status"] == "ok"
        samples = scrape(kefu)  # the counters still, and the database's absence
        assert value(samples, "kefu_database_up") == 0
        assert not any(name == "kefu_jobs" for name, _ in samples)


async def test_decision_and_delivery_log_lines_name_the_conversation(make_world: WorldFactory) -> None:
    world = await make_world(kb=True)
    world.says("怎么退货")
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await world.settle()
    conversation = await world.conversation()
    decided = [line for line in logs if line["event"] == "reception.decided"]
    delivered = [line for line in logs if line["event"] == "reception.delivered"]
    assert decided and delivered
    for line in decided + delivered:
        assert line["conversation_id"] == conversation.id
    assert delivered[0]["task"] == "reception.deliver" and "job_id" in delivered[0]


async def test_a_worker_serves_its_own_counters(make_world: WorldFactory) -> None:
    """`kefu worker --metrics-port`: a process without Kefu's HTTP server exposes what it counted."""
    world = await make_world(kb=True)
    server, thread = metrics.serve_counters("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        before = parse(call("GET", url).text)
        world.says("怎么退货")
        await world.settle()  # the pull, the AI and the send, in this process
        after = parse(call("GET", url).text)
    finally:
        server.shutdown()
        thread.join(5)
    key = ("kefu_wecom_calls_total", frozenset({("endpoint", "kf/send_msg"), ("errcode", "0")}))
    assert after.get(key, 0) - before.get(key, 0) == 1
    assert not any(name == "kefu_jobs" for name, _ in after)  # the database's figures: serve's /metrics
