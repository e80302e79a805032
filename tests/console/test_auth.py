"""Sign-in, sessions, CSRF and throttling of the console, over the real ASGI stack and database."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from kefu.api.models import ConsoleSession, ConsoleUser
from kefu.api.users import MAX_FAILURES_PER_USER, create_user
from kefu.errors import Invalid
from kefu.runtime import Runtime
from tests.console.conftest import PASSWORD, SignIn, add_user, csrf_of, login


async def test_the_login_page_is_chinese_with_username_and_password(console: httpx.AsyncClient) -> None:
    page = await console.get("/console/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert "登录" in page.text and 'lang="zh-CN"' in page.text


async def test_anonymous_pages_go_to_the_login_page(console: httpx.AsyncClient) -> None:
    answer = await console.get("/console/users")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/users"
    htmx = await console.get("/console/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/console/login")


async def test_right_password_signs_in_and_wrong_one_does_not(
    rt: Runtime, console: httpx.AsyncClient
) -> None:
    await add_user(rt, "lin", "admin")
    wrong = await login(console, "lin", "not the password")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert (await console.get("/console/")).status_code == 303
    right = await login(console, "lin")
    assert right.status_code == 303 and right.headers["location"] == "/console/"
    cookie = right.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    home = await console.get("/console/")
    assert home.status_code == 200 and "你好，lin" in home.text
    async with rt.db.read() as session:
        stored = (await session.scalars(select(ConsoleSession.token_hash))).all()
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == "lin"))
    token = console.cookies["kefu_console"]
    assert token not in stored and len(stored) == 1  # only a hash is kept
    assert (
        user is not None
        and PASSWORD not in user.password_hash
        and user.password_hash.startswith("$argon2id$")
    )


async def test_login_without_its_form_token_is_refused(rt: Runtime, console: httpx.AsyncClient) -> None:
    await add_user(rt, "lin", "admin")
    forged = await console.post("/console/login", data={"username": "lin", "password": PASSWORD})
    assert forged.status_code == 403 and "kefu_console" not in forged.headers.get("set-cookie", "")


async def test_an_open_redirect_after_login_is_not_followed(rt: Runtime, console: httpx.AsyncClient) -> None:
    await add_user(rt, "lin", "admin")
    page = await console.get("/console/login")
    answer = await console.post(
        "/console/login",
        data={
            "username": "lin",
            "password": PASSWORD,
            "csrf_token": csrf_of(page),
            "next": "//evil.example/x",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"


async def test_repeated_failures_lock_the_username_even_for_the_right_password(
    rt: Runtime, console: httpx.AsyncClient
) -> None:
    await add_user(rt, "lin", "admin")
    for _ in range(MAX_FAILURES_PER_USER):
        assert (await login(console, "lin", "guess-guess")).status_code == 401
    locked = await login(console, "lin")
    assert locked.status_code == 429 and "15 分钟" in locked.text


async def test_logout_needs_the_csrf_token_and_ends_the_session(signed_in: SignIn) -> None:
    client = await signed_in("admin")
    refused = await client.post("/console/logout")
    assert refused.status_code == 403 and (await client.get("/console/")).status_code == 200
    home = await client.get("/console/")
    done = await client.post("/console/logout", data={"csrf_token": csrf_of(home)})
    assert done.status_code == 303
    assert (await client.get("/console/")).status_code == 303


async def test_a_disabled_user_is_signed_out(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    servicer = await signed_in("servicer")
    assert (await servicer.get("/console/")).status_code == 200
    page = await admin.get("/console/users")
    async with rt.db.read() as session:
        target = await session.scalar(select(ConsoleUser).where(ConsoleUser.role == "servicer"))
    assert target is not None
    await admin.post(
        f"/console/users/{target.id}/disabled", data={"csrf_token": csrf_of(page), "disabled": "1"}
    )
    assert (await servicer.get("/console/")).status_code == 303


async def test_the_language_switch_turns_the_console_english(signed_in: SignIn) -> None:
    client = await signed_in("admin")
    assert "首页" in (await client.get("/console/")).text
    await client.get("/console/lang/en", headers={"Referer": "http://kefu.test/console/users"})
    page = await client.get("/console/")
    assert "Hello, admin0" in page.text and 'lang="en"' in page.text


@pytest.mark.parametrize(
    ("username", "role", "userid", "password", "complaint"),
    [
        ("bad name!", "admin", None, PASSWORD, "username"),
        ("x", "root", None, PASSWORD, "role"),
        ("x", "servicer", None, PASSWORD, "wecom-userid"),
        ("x", "admin", None, "short", "password"),
    ],
)
async def test_bad_users_are_refused_with_the_reason(
    rt: Runtime, username: str, role: str, userid: str | None, password: str, complaint: str
) -> None:
    async with rt.db.write() as session:
        with pytest.raises(Invalid, match=complaint):
            await create_user(session, username=username, password=password, role=role, wecom_userid=userid)
