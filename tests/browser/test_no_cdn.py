"""The pages load nothing from outside their own origin: no CDN, no web font, no tracker.

Every HTML page is scanned for the resources it references (src, href, action, url()),
and each of those plus every file of the static folder and every template is scanned
for absolute http(s) URLs. (The browser tests also fail on any request that leaves the
page's origin.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from kefu.simulator import SimulatorServer, pages

# http(s)://… anywhere, and scheme-relative //host after a quote or parenthesis (a `//`
# comment in JS is not a URL).
ABSOLUTE = re.compile(r"""https?://[^\s"'<>)]+|(?<=["'(])//[A-Za-z0-9.-]+""")
PAGES = ("/_sim/", "/_sim/customer", "/_sim/servicer")


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("src", "href", "action", "srcset", "poster", "data"):
                self.found.append(value)
            if value and name == "style":
                self.found += re.findall(r"url\(([^)]*)\)", value)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def outside(urls: list[str], origin: str) -> list[str]:
    """The URLs that do not stay on `origin` (relative ones and data: do)."""
    return [
        url for url in urls if not url.startswith("data:") and _origin(urljoin(origin + "/", url)) != origin
    ]


def test_the_pages_reference_nothing_outside_their_origin(simulator: SimulatorServer) -> None:
    corp = simulator.control("POST", "corps", {"name": "青禾家电"})
    simulator.control("POST", f"corps/{corp['corpid']}/accounts", {"name": "青禾家电售后"})
    simulator.control("POST", f"corps/{corp['corpid']}/customers", {"nickname": "小林"})
    origin = simulator.url
    fetched: set[str] = set()
    with httpx.Client(base_url=origin, timeout=10) as http:
        for path in PAGES:
            page = http.get(path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            parser = References()
            parser.feed(page.text)
            assert outside(parser.found, origin) == [], path
            fetched.update(u for u in parser.found if u.startswith("/_sim/static/"))
        assert {urlsplit(u).path for u in fetched} >= {"/_sim/static/sim.css", "/_sim/static/common.js"}
        for url in fetched:
            asset = http.get(url)
            assert asset.status_code == 200, url
            assert ABSOLUTE.findall(asset.text) == [], url


def test_no_static_file_or_template_names_an_absolute_url() -> None:
    package = Path(pages.__file__).parent
    files = sorted((package / "static").glob("*")) + sorted((package / "templates").glob("*"))
    assert {f.suffix for f in files} >= {".js", ".css", ".html"}
    for file in files:
        assert ABSOLUTE.findall(file.read_text(encoding="utf-8")) == [], file.name
