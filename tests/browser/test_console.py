"""The console in headless Chromium: the demo's admin signs in and sees the admin menu; the
demo's servicer (张三) signs in and is refused an admin page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kefu.demo import Demo

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]
SCREENSHOTS = Path(__file__).parents[1] / ".screenshots"  # ignored by git


def sign_in(page: Any, demo: Demo, username: str, password: str) -> None:
    page.goto(demo.urls["Kefu console (控制台)"])
    page.wait_for_url("**/console/login**")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")


def test_the_admin_signs_in_and_sees_the_admin_menu(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("h1", has_text="你好，admin").wait_for()
    menu = page.locator("nav.sidebar")
    for label in ("用户", "API 令牌"):
        menu.locator("a", has_text=label).wait_for()
    menu.locator("a", has_text="用户").click()
    page.get_by_role("cell", name="zhangsan", exact=True).first.wait_for()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-users.png"), full_page=True)


def test_the_servicer_is_refused_an_admin_page(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "zhangsan", demo.keys.servicer_password)
    page.locator("h1", has_text="你好，张三").wait_for()
    assert page.locator("nav.sidebar a", has_text="用户").count() == 0
    answer = page.goto(demo.urls["Kefu console (控制台)"] + "users")
    assert answer is not None and answer.status == 403
    page.locator("h1", has_text="无权访问").wait_for()


def test_a_wrong_password_keeps_the_username_and_says_why(demo: Demo, context: Any) -> None:
    page = context.new_page()
    page.goto(demo.urls["Kefu console (控制台)"])
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    page.locator(".flash-error", has_text="用户名或密码错误").wait_for()
    assert page.input_value("input[name=username]") == "admin"


def test_the_console_script_runs_and_opens_the_live_stream(demo: Demo, context: Any) -> None:
    """console.js carries the CSRF header of htmx requests, the copy buttons and the live
    stream: one syntax error (a brace lost in a merge) silently disabled all three."""
    assert demo.keys is not None
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    sign_in(page, demo, "zhangsan", demo.keys.servicer_password)
    with page.expect_request("**/console/events"):
        page.goto(demo.urls["Kefu console (控制台)"] + "workbench/sessions")
    page.wait_for_load_state("networkidle")
    assert errors == []  # also no 404 for a favicon the console never had
