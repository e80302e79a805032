"""What this process counts for Prometheus: callbacks, WeCom calls, AI answers.

The base layer's one metrics module, so that low layers (`wecom`, `ingest`, `reception`) can
record an event without reaching up. Each counter lives in this process's memory: a process
exposes its own counts (a `kefu worker` process has no HTTP server and exposes nothing).
Figures that must be right across processes — jobs, sessions, the pool, sync lag — are read
from the database when /metrics is scraped (`kefu.health`), not counted here.

Labels are bounded: endpoints are WeCom's paths Kefu knows, errcodes what WeCom answers
(plus `transport` for no answer), reasons a fixed set of slugs.
"""

from __future__ import annotations

import re
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.process_collector import ProcessCollector

# The classic text format, which every Prometheus (2.x and 3.x) reads; the names Kefu uses
# need none of the newer format's escaping.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

CALLBACKS_RECEIVED = Counter(
    "kefu_callbacks_received",
    "Requests on /wecom/callback/{id} by method, answered or not.",
    ["method"],
    registry=REGISTRY,
)
CALLBACKS_REJECTED = Counter(
    "kefu_callbacks_rejected",
    "Callback requests answered with an error (4xx/5xx), by reason.",
    ["reason"],
    registry=REGISTRY,
)
WECOM_CALLS = Counter(
    "kefu_wecom_calls",
    "HTTP exchanges with WeCom by endpoint and errcode (0: ok; transport: no usable answer).",
    ["endpoint", "errcode"],
    registry=REGISTRY,
)
WECOM_CALL_SECONDS = Histogram(
    "kefu_wecom_call_seconds",
    "Duration of one HTTP exchange with WeCom, by endpoint.",
    ["endpoint"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
AI_ANSWER_SECONDS = Histogram(
    "kefu_ai_answer_seconds",
    "Time the AI took to answer a customer, by outcome (answered, no_answer, failed).",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
    registry=REGISTRY,
)

_SLUG = re.compile(r"[^a-z0-9]+")


def callback_answered(method: str, status: int, body: str) -> None:
    """One request on the callback path: counted, and its refusal's reason when status ≥ 400."""
    CALLBACKS_RECEIVED.labels(method if method in ("GET", "POST") else "other").inc()
    if status >= 400:
        CALLBACKS_REJECTED.labels(rejection_reason(status, body)).inc()


def rejection_reason(status: int, body: str) -> str:
    """A bounded slug of the refusal Kefu answered (the bodies are fixed strings of ours)."""
    if body == "refused":  # recorder.open_callback: a forged signature/receiveid is 403
        return "signature" if status == 403 else "undecryptable"
    if body.endswith(" too long") and body != "parameter too long":
        return "field_too_long"  # "<Field> too long": one label for every field
    slug = _SLUG.sub("_", body.lower()).strip("_")
    return slug[:40] or str(status)


def wecom_call(endpoint: str, errcode: int | str, seconds: float) -> None:
    """One HTTP exchange with WeCom (transport.py): its errcode and how long it took."""
    WECOM_CALLS.labels(endpoint, str(errcode)).inc()
    WECOM_CALL_SECONDS.labels(endpoint).observe(seconds)


def ai_answer(outcome: str, seconds: float) -> None:
    AI_ANSWER_SECONDS.labels(outcome).observe(seconds)


def exposition() -> bytes:
    """This process's counters in Prometheus' text format."""
    return generate_latest(REGISTRY)


def serve_counters(host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """`kefu worker --metrics-port`: this process's counters on a small HTTP server of their
    own (a worker has no other), at any path; no token, so keep it on loopback or a private
    network. The database's figures are left to `kefu serve`'s /metrics (one copy of them)."""
    return start_http_server(port, addr=host, registry=REGISTRY)
