"""create_app(): routes, middleware and the lifespan that runs the worker on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kefu.clock import Clock
from kefu.ingest.checks import CallbackStats
from kefu.ingest.recorder import CallbackRecorder
from kefu.ingest.routes import CallbackEndpoint
from kefu.runtime import Runtime
from kefu.settings import Settings, get_settings


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
        from kefu.ingest.poller import run_poller
        from kefu.jobs.worker import Worker

        stop = asyncio.Event()
        background = [asyncio.create_task(run_poller(rt, stop))]
        if with_worker:
            background.append(asyncio.create_task(Worker(rt).run(stop)))
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

    app.add_middleware(
        CallbackEndpoint,
        runtime=rt,
        recorder=app.state.callback_recorder,
        stats=app.state.callback_stats,
    )
    from kefu.api.routes import build_api_router, install_error_handlers

    app.include_router(build_api_router())
    install_error_handlers(app)
    return app
