"""A console address that is no page — a mistyped or stale link, a POST-only action opened in
the address bar — gets the console's page in the reader's language, with a way back, not
FastAPI's `{"detail": "Not Found"}`. The REST API and the other paths keep their answers."""

from __future__ import annotations

import httpx
import pytest

from tests.console.conftest import SignIn

pytestmark = pytest.mark.db


async def test_a_mistyped_console_link_is_a_chinese_page_with_a_way_home(signed_in: SignIn) -> None:
    servicer = await signed_in("servicer")
    answer = await servicer.get("/console/workbench/mine-typo")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "没有这个页面" in answer.text and 'href="/console/"' in answer.text


async def test_a_post_only_action_opened_in_the_address_bar_is_a_page_too(console: httpx.AsyncClient) -> None:
    answer = await console.get("/console/logout", headers={"accept-language": "en-US,en;q=0.9"})
    assert answer.status_code == 405
    assert "There is no such page" in answer.text and "Console home" in answer.text


async def test_the_api_and_other_paths_keep_their_json(console: httpx.AsyncClient) -> None:
    api = await console.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    other = await console.get("/no-such-thing")
    assert other.status_code == 404 and other.json() == {"detail": "Not Found"}
