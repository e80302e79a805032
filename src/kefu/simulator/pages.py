"""The simulator's pages: a WeChat-like customer page, a WeCom-like servicer page, an index.

Pages are plain HTML (Jinja2) plus small vanilla JS from `static/` (no CDN, no build
step). They act through the control API (`/_sim/api/...`) and read the world through
views (`/_sim/ui/...`, built in page_views.py), which shape it for display: a chat as the customer
sees it, a session as the servicer sees it, a servicer's lists. The pages poll the
views about once a second; a view answers `{"unchanged": true}` while the world's
version equals `since`, so an idle page costs almost nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from kefu.simulator.control import corp_of
from kefu.simulator.deps import SimDep
from kefu.simulator.errors import ControlError
from kefu.simulator.page_views import chat_view, directory_view, pair, servicer_view, session_view
from kefu.simulator.state import World

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
# Cache-busting suffix for static URLs: changes whenever a static file changes.
ASSET_VERSION = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(STATIC_DIR.glob("*")) if p.is_file())
).hexdigest()[:10]

router = APIRouter(include_in_schema=False)
router.mount("/_sim/static", StaticFiles(directory=STATIC_DIR), name="sim_static")


# -- HTML pages -------------------------------------------------------------------


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"v": ASSET_VERSION, **context})


@router.get("/_sim")
async def sim_root() -> RedirectResponse:
    return RedirectResponse("/_sim/")


@router.get("/_sim/", response_class=HTMLResponse)
async def index_page(request: Request, sim: SimDep) -> HTMLResponse:
    with sim.world.lock:
        directory = directory_view(sim.world)
    return _page(request, "index.html", corps=directory["corps"])


@router.get("/_sim/customer", response_class=HTMLResponse)
async def customer_page(request: Request) -> HTMLResponse:
    return _page(request, "customer.html")


@router.get("/_sim/servicer", response_class=HTMLResponse)
async def servicer_page(request: Request) -> HTMLResponse:
    return _page(request, "servicer.html")


# -- JSON views for the pages ----------------------------------------------------------


def _unchanged(world: World, since: int | None) -> dict[str, Any] | None:
    return {"version": world.version, "unchanged": True} if since == world.version else None


@router.get("/_sim/ui/directory")
async def directory(sim: SimDep, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or directory_view(sim.world)


@router.get("/_sim/ui/chat")
async def chat(sim: SimDep, customer: str, account: str, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or chat_view(sim.world, *pair(sim.world, account, customer))


@router.get("/_sim/ui/session")
async def session(sim: SimDep, customer: str, account: str, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or session_view(sim.world, *pair(sim.world, account, customer))


@router.get("/_sim/ui/servicer")
async def servicer(sim: SimDep, corpid: str, userid: str, since: int | None = None) -> dict[str, Any]:
    with sim.world.lock:
        return _unchanged(sim.world, since) or servicer_view(sim.world, corp_of(sim.world, corpid), userid)


@router.get("/_sim/ui/media/{media_id}")
async def media(sim: SimDep, media_id: str) -> Response:
    """Show a customer's image, or one Kefu uploaded with media/upload."""
    with sim.world.lock:
        found = sim.world.media.get(media_id)
    if found is None:
        raise ControlError(404, f"no media {media_id}")
    # Only images are shown inline: anything else a customer "sent" is a download, never a page.
    if found.content_type.startswith("image/") and "svg" not in found.content_type:
        return Response(
            found.data, media_type=found.content_type, headers={"X-Content-Type-Options": "nosniff"}
        )
    return Response(
        found.data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )
