"""The web console under /console/: server-rendered pages (Jinja2 + htmx, vendored) for admins,
supervisors and servicers. It calls the same services as the REST API; no business rule lives
in a page handler. Each page module owns an APIRouter and its words (locales/<lang>/<module>.json)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from kefu.console import session_pages, system_pages
from kefu.console.web import STATIC_DIR, install_console_errors

PAGE_ROUTERS = (session_pages.router, system_pages.router)


def install_console(app: FastAPI) -> None:
    """Mount the console's pages, static files and error pages on the app."""
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
