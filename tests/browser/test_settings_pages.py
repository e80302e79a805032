"""接入后设置 in headless Chromium: the demo's admin opens 在线客服账号, changes 接待模式 and a reception
hours period, saves, and sees both kept; a period that ends before it starts is refused beside
its field in Chinese, and the REST API reads back what the page saved. AI 设置 refuses a bad
address and timeout beside their fields, in Chinese and in English."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kefu.demo import Demo
from tests.browser.test_console import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_the_admin_changes_reception_mode_and_hours(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="接入后设置").click()
    page.locator("h1", has_text="在线客服账号").wait_for()
    page.locator("#accounts tbody a").first.click()
    page.locator("nav.tabs a.active", has_text="基础设置").wait_for()

    page.locator("nav.tabs a", has_text="问答接待规则").click()
    page.get_by_label("仅人工接待").check()
    page.click("#save-settings")
    page.locator("#saved", has_text="已保存").wait_for()
    assert page.get_by_label("仅人工接待").is_checked()

    page.locator("nav.tabs a", has_text="人工接待时间").click()
    page.fill("input[name='hours.weekly.sat']", "10:00-16:00")
    page.click("#save-settings")
    page.locator("#saved", has_text="已保存").wait_for()
    assert page.input_value("input[name='hours.weekly.sat']") == "10:00-16:00"

    page.fill("input[name='hours.weekly.sun']", "18:00-09:00")
    page.click("#save-settings")
    error = page.locator("[data-error-for='hours.weekly.sun']")
    error.wait_for()
    assert error.inner_text() == (  # in the reader's language, Chinese by default
        "18:00-09:00：结束时间早于开始时间；跨午夜请拆成当天 18:00-24:00 和次日 00:00-09:00"
    )
    assert page.locator("label.field-error input[name='hours.weekly.sun']").count() == 1
    assert page.input_value("input[name='hours.weekly.sun']") == "18:00-09:00"  # kept as typed
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-account-hours.png"), full_page=True)

    kefu = demo.urls["Kefu health"].removesuffix("/healthz")
    auth = {"Authorization": f"Bearer {demo.keys.api_token}"}
    account_id = page.url.split("/console/accounts/")[1].split("/")[0]  # the refused POST's URL
    saved = httpx.get(f"{kefu}/api/v1/accounts/{account_id}/settings", headers=auth).json()
    assert saved["reception"]["mode"] == "human_only"
    assert saved["hours"]["weekly"]["sat"] == ["10:00-16:00"]
    assert "18:00-09:00" not in saved["hours"]["weekly"]["sun"]  # the refused value was not saved


def test_ai_settings_word_a_refused_value_beside_its_field(demo: Demo, context: Any) -> None:
    """AI 设置: an address without http:// and a timeout of 0 are refused beside their fields,
    in Chinese, then in English once the reader switches; nothing is saved."""
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="AI 设置").click()
    page.locator("h1", has_text="AI 设置").wait_for()
    provider = page.input_value("select[name=provider]")

    def refuse() -> None:
        page.select_option("select[name=provider]", "openai")
        page.fill("input[name='openai.base_url']", "127.0.0.1:8001/v1")
        page.fill("input[name='openai.model']", "qwen-plus")
        page.fill("input[name='openai.timeout_s']", "0")
        page.locator("button.primary[type=submit]").click()
        page.locator("[data-error-for='openai.base_url']").wait_for()

    refuse()
    assert page.locator("[data-error-for='openai.base_url']").inner_text() == (
        "“127.0.0.1:8001/v1”不是网址：须以 http:// 或 https:// 开头"
    )
    assert page.locator("[data-error-for='openai.timeout_s']").inner_text() == "须大于 0"
    assert page.locator("label.field-error input[name='openai.base_url']").count() == 1
    assert page.input_value("input[name='openai.base_url']") == "127.0.0.1:8001/v1"  # kept as typed

    page.locator(".lang-switch a", has_text="EN").click()
    page.wait_for_load_state()
    page.goto(demo.urls["Kefu console (控制台)"] + "ai")
    refuse()
    assert page.locator("[data-error-for='openai.base_url']").inner_text() == (
        "“127.0.0.1:8001/v1” is not a web address: it must start with http:// or https://"
    )
    assert page.locator("[data-error-for='openai.timeout_s']").inner_text() == "Must be more than 0"
    page.goto(demo.urls["Kefu console (控制台)"] + "ai")
    assert page.input_value("select[name=provider]") == provider  # nothing was saved
