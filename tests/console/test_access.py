"""Every console route, with every role: anonymous browsers go to the login page, and a role the
menu does not grant a page gets 403 — for GET and POST alike, before any form or row is read."""

from __future__ import annotations

import re

import httpx

from kefu.app import create_app
from kefu.console.menu import EVERYONE, MENU
from kefu.runtime import Runtime
from tests.console.conftest import SignIn

OPEN = {"/console/login", "/console/lang/{lang}"}


def console_routes(rt: Runtime) -> list[tuple[str, str]]:
    app = create_app(runtime=rt, run_worker=False)
    routes: list[tuple[str, str]] = app.state.console_routes
    return [(method, path) for method, path in routes if path not in OPEN]


def roles_of(path: str) -> tuple[str, ...]:
    """The roles of the longest menu item the path falls under; pages outside the menu are for everyone."""
    best, roles = "", EVERYONE
    for group in MENU:
        for item in group.items:
            if (path == item.path or path.startswith(item.path + "/")) and len(item.path) > len(best):
                best, roles = item.path, item.roles
    return roles


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_route_refuses_anonymous_browsers(rt: Runtime, console: httpx.AsyncClient) -> None:
    routes = console_routes(rt)
    assert ("GET", "/console/users") in routes and ("POST", "/console/tokens") in routes
    for method, path in routes:
        answer = await console.request(method, concrete(path))
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/console/login"), (method, path)


async def test_every_route_refuses_roles_it_is_not_for(rt: Runtime, signed_in: SignIn) -> None:
    clients = {role: await signed_in(role) for role in EVERYONE}
    refused = 0
    for method, path in console_routes(rt):
        allowed = roles_of(path)
        for role, client in clients.items():
            answer = await client.request(method, concrete(path))
            if role not in allowed:
                assert answer.status_code == 403, (role, method, path, answer.status_code)
                refused += 1
            elif method == "GET":
                assert answer.status_code in (200, 404), (role, method, path, answer.status_code)
    assert refused > 0  # the servicer is refused at least the admin pages


async def test_every_post_refuses_a_signed_in_admin_without_the_csrf_token(
    rt: Runtime, signed_in: SignIn
) -> None:
    """The CSRF check comes before any row is looked up: no POST answers anything but the 403."""
    admin = await signed_in("admin")
    posts = [path for method, path in console_routes(rt) if method == "POST"]
    assert "/console/logout" in posts and len(posts) > 20
    for path in posts:
        answer = await admin.post(concrete(path.replace("{tab}", "basic")), data={"csrf_token": "forged"})
        assert answer.status_code == 403 and "表单已过期或来源不明" in answer.text, (path, answer.status_code)
