"""The web console under /console/: server-rendered pages (Jinja2 + htmx, vendored) for admins,
supervisors and servicers. It calls the same services as the REST API; no business rule lives
in a page handler. Each page module (`*_pages.py`) owns an APIRouter and its words
(locales/<lang>/<module>.json); modules are found by name, so pages added side by side never
edit a shared list."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from kefu.console.headers import ConsoleHeaders
from kefu.console.web import STATIC_DIR, install_console_errors


def _page_routers() -> list[APIRouter]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_pages"))
    return [importlib.import_module(f"{__name__}.{name}").router for name in names]


PAGE_ROUTERS = _page_routers()


def install_console(app: FastAPI) -> None:
    """Mount the console's pages, static files and error pages on the app, and its security
    headers (kefu.console.headers)."""
    router = APIRouter(include_in_schema=False)
    for pages in PAGE_ROUTERS:
        router.include_router(pages)
    app.include_router(router)
    # FastAPI includes routers lazily (app.routes no longer lists their routes), so the menu and
    # the access test read the console's own list of (method, path).
    app.state.console_routes = sorted(
        (method, route.path)
        for pages in PAGE_ROUTERS
        for route in pages.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    )
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console_static")
    install_console_errors(app)
    app.add_middleware(ConsoleHeaders)
