"""The admin pages in headless Chromium: the demo's admin adds a knowledge entry, asks it in
试一试 and sees the answer (no restart), then finds the change in 审计日志."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.demo import Demo
from tests.browser.test_console import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_an_admin_adds_an_entry_asks_it_and_sees_it_audited(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="知识库").click()
    page.locator("h1", has_text="知识库").wait_for()
    page.locator("a", has_text="新增问答").click()
    page.fill("input[name=id]", "moon-coin")
    page.fill("input[name=question]", "可以用月亮币付款吗")
    page.fill("textarea[name=alt]", "支持月亮币吗")
    page.fill("textarea[name=answer]", "可以，结账时选择月亮币付款即可。")
    # 启用 sits beside its tick box (one line), and 保存 is a button, not a full-width bar
    enabled = page.locator("label", has=page.locator("input[name=enabled]")).bounding_box()
    save = page.locator("form.stacked-form button[type=submit]").bounding_box()
    form = page.locator("form.stacked-form").bounding_box()
    assert enabled and save and form and enabled["height"] < 32 and save["width"] < form["width"] / 3
    page.click("form.stacked-form button[type=submit]")
    page.locator(".flash-ok", has_text="已保存问答 moon-coin").wait_for()

    page.fill(".kb-try input[name=question]", "支持月亮币吗")
    page.click(".kb-try button[type=submit]")  # htmx: the answer appears in place
    result = page.locator("#kb-result")
    result.locator(".kb-reply", has_text="结账时选择月亮币付款").wait_for()
    assert "moon-coin" in result.inner_text()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-knowledge.png"), full_page=False)

    page.locator("nav.sidebar a", has_text="审计日志").click()
    row = page.locator("table.audit-events tr", has_text="knowledge:moon-coin").first
    row.wait_for()
    assert "knowledge.create" in row.inner_text() and "console:admin" in row.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "console-audit.png"), full_page=False)


def test_a_mistyped_exclusive_servicer_is_refused_beside_its_field(demo: Demo, context: Any) -> None:
    """The demo's servicers are zhangsan, lisi and wangwu: "zhangsna" is refused in words beside
    专属客服, nothing is saved, and the corrected card is."""
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.goto(demo.urls["Kefu console (控制台)"] + "crm/customers/new")
    page.fill("input[name=name]", "青禾家电")
    page.fill("input[name=exclusive_userid]", "zhangsna")
    page.click("form.stacked-form button[type=submit]")
    field = page.locator("label.field-error", has=page.locator("input[name=exclusive_userid]"))
    field.locator(".error-text", has_text="专属客服“zhangsna”不是接待人员").wait_for()
    assert page.input_value("input[name=exclusive_userid]") == "zhangsna"  # kept for correcting
    page.fill("input[name=exclusive_userid]", "zhangsan")
    page.click("form.stacked-form button[type=submit]")
    page.locator(".flash-ok", has_text="已保存").wait_for()
    assert page.input_value("input[name=exclusive_userid]") == "zhangsan"
