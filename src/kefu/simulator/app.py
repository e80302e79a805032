"""`create_simulator_app`: the WeCom simulator as one FastAPI app.

- `/cgi-bin/...` — WeCom's kf API (wecom_api.py, api_corp.py, api_kf.py)
- `/_sim/api/...` — the control API (control*.py), documented in docs/simulator.md
- `/_sim/`, `/_sim/customer`, `/_sim/servicer` — the pages (pages.py)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute

from kefu.clock import Clock
from kefu.simulator import control, control_actions, control_reads, pages, wecom_api
from kefu.simulator.access import ControlTokenMiddleware
from kefu.simulator.core import Simulator
from kefu.simulator.errors import ControlError
from kefu.simulator.wecom_api import DropResponseMiddleware


def _shared_routes() -> list[BaseRoute]:
    """The routes of the module-level routers, built once at import (each handler finds its
    Simulator on `request.app.state`)."""
    return [
        route
        for module in (wecom_api, control, control_reads, control_actions, pages)
        for route in module.router.routes
    ]


def create_simulator_app(
    *, clock: Clock, callback_timeout_s: float = 5.0, control_token: str | None = None
) -> FastAPI:
    """A fresh simulator. `app.state.simulator` is its `Simulator` (world, faults, dispatcher).
    With `control_token`, `/_sim/...` needs it (see access.py): for a simulator off loopback."""
    sim = Simulator(clock, callback_timeout_s=callback_timeout_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        sim.close()

    app = FastAPI(
        title="Kefu WeCom simulator",
        description="WeCom 微信客服 API at WeCom's paths (/cgi-bin/...) plus a control API (/_sim/api/...).",
        lifespan=lifespan,
    )
    app.state.simulator = sim
    # Routes are built once per process and shared: starting a simulator stays cheap.
    app.router.routes.extend(_shared_routes())
    app.add_middleware(DropResponseMiddleware)
    if control_token:
        app.add_middleware(ControlTokenMiddleware, token=control_token)

    @app.exception_handler(ControlError)
    async def control_error(_request: Request, exc: ControlError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, Any]:
        return {
            "name": "Kefu WeCom simulator",
            "wecom_api": "/cgi-bin/",
            "control_api": "/_sim/api/",
            "openapi": "/docs",
        }

    return app
