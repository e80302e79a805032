"""The signed outgoing webhook: events POSTed as JSON to `KEFU_WEBHOOK_URL`, through the job
queue (retried with backoff until the receiver answers 2xx).

Each request carries `X-Kefu-Event` (e.g. `crm.binding.bound`), `X-Kefu-Delivery` (the event's
id, the same on every retry: receivers de-duplicate on it), `X-Kefu-Timestamp` (unix seconds of
this attempt) and `X-Kefu-Signature: sha256=<hex>`, the HMAC-SHA256 with `KEFU_WEBHOOK_SECRET`
of `<timestamp>.<body>` — the raw body bytes, so receivers verify before parsing and refuse
stale timestamps (replays). The body is fixed when the event happens: a retry sends the same
bytes under a new timestamp and signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kefu.crm.identity import BindingEvent
from kefu.jobs.queue import add_job
from kefu.jobs.registry import task
from kefu.logs import get_logger
from kefu.runtime import Runtime
from kefu.settings import Settings

log = get_logger(__name__)
WEBHOOK_TASK = "crm.webhook"
TIMEOUT_S = 10.0


class WebhookRefused(Exception):
    """The receiver did not answer 2xx: the job is tried again later."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def emit(
    session: Session, settings: Settings, event: str, data: dict[str, Any], *, now: datetime
) -> int | None:
    """Queue the event in the caller's transaction (it goes out only if that commits); nothing
    without a webhook URL. Synchronous (a decision's unit of work): `session.run_sync` from async code."""
    if not settings.webhook_url:
        return None
    event_id = uuid.uuid4().hex
    body = json.dumps(
        {"id": event_id, "event": event, "at": now.isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return add_job(session, WEBHOOK_TASK, {"event": event, "event_id": event_id, "body": body}, now=now)


# 30 attempts, 5 s doubling to an hour: about a day of a receiver being down.
@task(WEBHOOK_TASK, max_attempts=30, backoff_base_s=5.0, backoff_cap_s=3600.0)
async def deliver(rt: Runtime, *, event: str, event_id: str, body: str) -> None:
    url, secret = rt.settings.webhook_url, rt.settings.webhook_secret
    if not url:
        log.info("webhook.dropped", kind=event, event_id=event_id, reason="KEFU_WEBHOOK_URL unset")
        return
    raw = body.encode()
    timestamp = str(int(rt.clock.timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Kefu-Event": event,
        "X-Kefu-Delivery": event_id,
        "X-Kefu-Timestamp": timestamp,
        "X-Kefu-Signature": sign(secret.get_secret_value() if secret else "", timestamp, raw),
    }
    try:
        answer = await rt.http.post(url, content=raw, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise WebhookRefused(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= answer.status_code < 300:
        raise WebhookRefused(f"{url} answered {answer.status_code}")
    log.info("webhook.delivered", kind=event, event_id=event_id, status=answer.status_code)


async def emit_binding(session: AsyncSession, settings: Settings, event: BindingEvent | None) -> None:
    """`crm.binding.bound` / `crm.binding.unbound`, when something changed."""
    if event is not None:
        name = "crm.binding.bound" if event.action == "bind" else "crm.binding.unbound"
        await session.run_sync(emit, settings, name, event.payload(), now=event.at)
