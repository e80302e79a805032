"""使用指南: the guide is a console page for every role, in the menu, with its screenshots served
by the console itself (nothing from outside Kefu)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.console.conftest import SignIn


@pytest.mark.parametrize("role", ["admin", "supervisor", "servicer"])
async def test_every_role_reads_the_guide_from_the_menu(signed_in: SignIn, role: str) -> None:
    client = await signed_in(role)
    home = await client.get("/console/")
    assert 'href="/console/help"' in home.text and "使用指南" in home.text
    page = await client.get("/console/help")
    assert page.status_code == 200
    assert "<h1>Kefu 控制台使用手册</h1>" in page.text and page.text.count("<h2>") >= 5
    images = re.findall(r'<img src="([^"]+)"', page.text)
    assert len(images) >= 5 and all(src.startswith("/console/static/guide/img/") for src in images)
    for src in images:
        picture = await client.get(src)
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG"), src


async def test_the_guide_needs_a_sign_in(console: httpx.AsyncClient) -> None:
    answer = await console.get("/console/help")
    assert answer.status_code in (302, 303) and "/console/login" in answer.headers["location"]
