"""No console page loads anything from outside Kefu: every src/href/action of every page an
admin can open, and every static file and template, names only Kefu's own origin."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import kefu.console
from kefu.runtime import Runtime
from tests.browser.test_no_cdn import ABSOLUTE, References, outside
from tests.console.conftest import SignIn
from tests.console.test_access import console_routes


async def test_every_page_references_only_kefu(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    origin = "http://kefu.test"
    assets: set[str] = set()
    pages = [path for method, path in console_routes(rt) if method == "GET" and "{" not in path]
    assert "/console/users" in pages
    for path in pages:
        page = await admin.get(path)
        assert page.status_code == 200, path
        parser = References()
        parser.feed(page.text)
        assert outside(parser.found, origin) == [], path
        assets |= {urlsplit(u).path for u in parser.found if u.startswith("/console/static/")}
    assert {"/console/static/console.css", "/console/static/htmx-2.0.11.min.js"} <= assets
    for asset in assets:
        answer = await admin.get(asset)
        assert answer.status_code == 200, asset


def test_no_static_file_or_template_names_an_absolute_url() -> None:
    package = Path(kefu.console.__file__).parent
    # What a browser loads; the guide's Markdown is prose (its rendered page is checked above).
    files = [p for p in (package / "static").rglob("*") if p.suffix in (".js", ".css")]
    files += list((package / "templates").rglob("*.html"))
    assert {f.suffix for f in files} >= {".js", ".css", ".html"}
    for file in files:
        assert ABSOLUTE.findall(file.read_text(encoding="utf-8")) == [], file.name
