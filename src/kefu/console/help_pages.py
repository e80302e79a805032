"""使用指南: the user guide, page by page, for everyone signed in. Its text is
static/guide/guide.zh.md (also read on GitHub), rendered once per process with markdown-it;
its screenshots are served from static/guide/img/."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from kefu.console.menu import EVERYONE
from kefu.console.web import STATIC_DIR, Viewer, render, role

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Viewer, Depends(role(*EVERYONE))]
GUIDE = STATIC_DIR / "guide" / "guide.zh.md"


@cache
def guide_html() -> Markup:
    # The guide is our own file, but raw HTML in it stays text all the same ("html": False).
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    html = parser.render(GUIDE.read_text(encoding="utf-8"))
    # Its images are relative to the guide's folder (so GitHub shows them too). Safe as markup:
    # markdown-it escaped every raw HTML of the file.
    return Markup(html.replace('src="img/', 'src="/console/static/guide/img/'))  # noqa: S704


@router.get("/console/help")
async def help_page(request: Request, viewer: Anyone) -> Response:
    return render(request, "help.html", guide=guide_html())
