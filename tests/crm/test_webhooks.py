"""The signed outgoing webhook against a real HTTP receiver on loopback: a binding event is
delivered through the job queue, signed with HMAC-SHA256 over `timestamp.body`, retried after a
refusal with the same body and delivery id, and nothing is queued without a URL."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from kefu.accounts.models import KfAccount
from kefu.jobs.models import Job
from kefu.jobs.worker import Worker
from kefu.runtime import Runtime
from kefu.threaded_server import ThreadedServer

pytestmark = pytest.mark.db
CRM = "/api/v1/crm"
SECRET = "whsec-test"


@dataclass
class Receiver:
    """Answers each POST with the next status of `answers` (then 200) and keeps what came."""

    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append((headers, body))
        status = self.answers.pop(0) if self.answers else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def receiver(rt: Runtime) -> Iterator[Receiver]:
    receiver = Receiver()
    with ThreadedServer(receiver, name="webhook-receiver") as server:
        rt.settings.webhook_url = f"{server.url}/kefu-events"
        rt.settings.webhook_secret = SecretStr(SECRET)
        yield receiver


async def bind_one(api: httpx.AsyncClient, account: KfAccount) -> tuple[int, int]:
    contact = (await api.post(f"{CRM}/contacts", json={"name": "王经理"})).json()["id"]
    wechat = await api.post(
        f"{CRM}/wechat-customers", json={"connection_id": account.connection_id, "external_userid": "wmA"}
    )
    wechat_id = wechat.json()["id"]
    bound = await api.put(f"{CRM}/wechat-customers/{wechat_id}/contact", json={"contact_id": contact})
    assert bound.status_code == 200, bound.text
    return wechat_id, contact


def verify(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: the signature over `<timestamp>.<raw body>` with the shared secret."""
    signed = headers["x-kefu-timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-kefu-signature"])


async def test_a_binding_is_delivered_signed_and_retried_after_a_refusal(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount, receiver: Receiver
) -> None:
    receiver.answers = [503]
    bound_at = rt.clock.now()
    wechat_id, contact = await bind_one(api, account)
    assert receiver.received == []  # queued, not sent from the request
    await Worker(rt).run_until_idle()
    assert len(receiver.received) == 1  # refused: waiting for its retry
    rt.clock.advance(3600)
    await Worker(rt).run_until_idle()
    assert len(receiver.received) == 2

    (first_headers, first_body), (headers, body) = receiver.received
    assert body == first_body and headers["x-kefu-delivery"] == first_headers["x-kefu-delivery"]
    assert int(headers["x-kefu-timestamp"]) == int(first_headers["x-kefu-timestamp"]) + 3600
    assert verify(first_headers, first_body) and verify(headers, body)
    assert not verify({**headers, "x-kefu-timestamp": first_headers["x-kefu-timestamp"]}, body)
    assert headers["x-kefu-event"] == "crm.binding.bound"
    event = json.loads(body)
    assert event["event"] == "crm.binding.bound" and event["id"] == headers["x-kefu-delivery"]
    assert event["data"] == {
        "wechat_customer_id": wechat_id,
        "connection_id": account.connection_id,
        "external_userid": "wmA",
        "contact_id": contact,
        "by": "token:alice",
        "at": bound_at.isoformat(),
    }
    async with rt.db.read() as session:
        statuses = (await session.scalars(select(Job.status).where(Job.task == "crm.webhook"))).all()
    assert statuses == ["succeeded"]

    assert (await api.delete(f"{CRM}/wechat-customers/{wechat_id}/contact")).status_code == 204
    await Worker(rt).run_until_idle()
    assert receiver.received[-1][0]["x-kefu-event"] == "crm.binding.unbound"


async def test_nothing_is_queued_without_a_webhook_url(
    rt: Runtime, api: httpx.AsyncClient, account: KfAccount
) -> None:
    await bind_one(api, account)
    async with rt.db.read() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Job).where(Job.task == "crm.webhook")) == 0
        )
