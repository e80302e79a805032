"""create_app(): routes, middleware and the lifespan that runs the worker on SQLite.

The entry layer: it assembles the feature packages' routers under /api/v1 and imports
kefu.registry, so every task is known in any process that serves."""

from __future__ import annotations

import asyncio
import gc
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

import kefu.registry  # noqa: F401 — every task registered
from kefu import metrics
from kefu.accounts.kb_routes import router as knowledge_router
from kefu.accounts.kf_routes import router as accounts_router
from kefu.accounts.routes import router as connections_router
from kefu.accounts.settings import stored_retrieval
from kefu.ai.factory import warm_up
from kefu.api.body_limit import BodyLimit
from kefu.api.routes import API_PREFIX, install_error_handlers
from kefu.clock import Clock
from kefu.console import install_console
from kefu.crm.routes import router as crm_router
from kefu.health import metrics_text, readiness
from kefu.ingest.checks import CallbackStats
from kefu.ingest.poller import run_poller
from kefu.ingest.recorder import CallbackRecorder
from kefu.ingest.routes import CallbackEndpoint
from kefu.jobs.worker import Worker
from kefu.reception.dispatch import run_dispatch_sweep
from kefu.reception.reconcile import run_state_check
from kefu.reception.retention import run_retention
from kefu.reception.routes import attention_router, follow_up_router, pool_router
from kefu.reception.routes import router as conversations_router
from kefu.reports.routes import router as reports_router
from kefu.runtime import Runtime
from kefu.settings import Settings, get_settings


def build_api_router() -> APIRouter:
    """Every REST resource under /api/v1 (each feature's router declares its own auth)."""
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(connections_router)
    api.include_router(accounts_router)
    api.include_router(knowledge_router)
    api.include_router(conversations_router)
    api.include_router(pool_router)
    api.include_router(follow_up_router)
    api.include_router(attention_router)
    api.include_router(crm_router)
    api.include_router(reports_router)
    return api


def settle_process(database_url: str) -> None:
    """Before a long-running process serves: load the AI's pinyin dictionary and (unless the
    stored `ai.retrieval` is lexical) its embedding model now, which would otherwise stall the
    event loop on the first question; then move everything loaded so far out of the garbage
    collector's sight. Without `gc.freeze()` each full collection walks
    those long-lived objects and pauses the event loop for ~100 ms, which callbacks arriving
    meanwhile see as latency (benchmarks/README.md)."""
    warm_up(stored_retrieval(database_url))
    gc.collect()
    gc.freeze()


def create_app(
    *,
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    clock: Clock | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    """Build the ASGI app. On SQLite the job worker runs inside this process unless run_worker=False."""
    settings = settings or (runtime.settings if runtime else get_settings())
    own_runtime = runtime is None
    rt = runtime or Runtime.build(settings, clock=clock)
    with_worker = settings.is_sqlite if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        background = [
            asyncio.create_task(run_poller(rt, stop)),
            asyncio.create_task(run_dispatch_sweep(rt, stop)),
            asyncio.create_task(run_state_check(rt, stop)),
            asyncio.create_task(run_retention(rt, stop)),
        ]
        if with_worker:
            background.append(
                asyncio.create_task(Worker(rt, concurrency=rt.settings.worker_concurrency).run(stop))
            )
        try:
            yield
        finally:
            await app.state.callback_recorder.close()
            stop.set()
            await asyncio.gather(*background, return_exceptions=True)
            if own_runtime:
                await rt.close()

    app = FastAPI(
        title="Kefu",
        version="0.1.0",
        lifespan=lifespan,
        # Everything the app serves besides the callback and the health check lives under /api/.
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        openapi_url="/api/v1/openapi.json",
    )
    app.state.runtime = rt
    app.state.callback_recorder = CallbackRecorder(rt)
    app.state.callback_stats = CallbackStats()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, object]:
        # Callbacks refused for a timestamp outside KEFU_CALLBACK_TIMESTAMP_WINDOW_S, by this
        # process since it started: a rising count means a clock off, or replays.
        return {"status": "ok", "stale_callbacks_refused": app.state.callback_stats.stale_refused}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # Readiness, not liveness: the database answers, a worker is alive, no account lags.
        checks = await readiness(rt)
        failing = [name for name, verdict in checks.items() if verdict != "ok"]
        body = {"status": "unready" if failing else "ready", "checks": checks, "failing": failing}
        return JSONResponse(body, status_code=503 if failing else 200)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        expected = rt.settings.metrics_token
        if expected is None:
            return PlainTextResponse("not found: set KEFU_METRICS_TOKEN to serve /metrics", 404)
        given = request.headers.get("authorization", "")
        wanted = f"Bearer {expected.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), wanted.encode()):
            return PlainTextResponse(
                "unauthorized", 401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
        return Response(await metrics_text(rt), media_type=metrics.CONTENT_TYPE)

    # Inside the callback endpoint, which holds callbacks to their own lower limit itself.
    app.add_middleware(BodyLimit)
    app.add_middleware(
        CallbackEndpoint,
        runtime=rt,
        recorder=app.state.callback_recorder,
        stats=app.state.callback_stats,
    )
    app.include_router(build_api_router())
    install_console(app)
    install_error_handlers(app)
    return app
