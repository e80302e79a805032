"""Servicers by name in headless Chromium: the demo names its servicers (张三 also has a console
user, 李四 and 王五 only their names on the account); the admin renames 王五 on the account
page's 接待人员 form; a customer asks for a person; the pool's take-for choice, 我的会话's
接待人员 column, the transfer choice and the session bar name them all."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.demo import Demo
from tests.browser.conftest import customer_writes
from tests.browser.test_console import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_the_admin_names_takes_and_transfers_by_the_servicers_names(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    console = context.new_page()
    sign_in(console, demo, "admin", demo.keys.admin_password)
    console.goto(demo.urls["Kefu console (控制台)"] + "accounts")
    console.locator("a.button", has_text="设置").first.click()
    servicers = console.locator("#servicers")
    assert servicers.locator("tbody tr td:first-child").all_inner_texts() == [
        "张三 zhangsan",
        "李四 lisi",
        "王五 wangwu",
    ]
    form = servicers.locator("form.grid-form")
    form.locator("input[name=userid]").fill("wangwu")
    form.locator("input[name=name]").fill("王小五")
    form.locator("button[type=submit]").click()
    console.locator(".flash-ok", has_text="wangwu").wait_for()
    assert console.locator("#servicers tbody tr td:first-child").nth(2).inner_text() == "王小五 wangwu"

    customer = customer_writes(demo, context, "转人工")

    console.goto(demo.urls["Kefu console (控制台)"] + "workbench/pool")
    row = console.locator(".pool-row", has_text="转人工")
    row.wait_for()
    assert row.locator("select option").all_inner_texts() == [
        "张三（0/10）",
        "李四（0/10）",
        "王小五（0/10）",
    ]
    row.locator("select").select_option("zhangsan")
    row.locator("button", has_text="分配接入").click()
    console.wait_for_url("**/console/workbench/sessions**")

    session = console.locator(".session-row")
    session.wait_for()
    assert "张三" in session.locator("td").nth(2).inner_text()  # the 接待人员 column
    choice = session.locator("select[name=servicer_userid]")
    choice.wait_for()  # once WeCom has handed the session over (the list re-reads itself)
    assert choice.locator("option").all_inner_texts() == ["李四（0/10）", "王小五（0/10）"]  # with their load
    choice.select_option("lisi")
    session.locator("button", has_text="转接").click()
    console.locator(".flash-ok", has_text="已请求转接给 李四").wait_for()
    console.locator("#conversation-state", has_text="人工接待（李四）").wait_for()
    customer.locator("#session-state", has_text="人工接待（李四）").wait_for()  # WeCom followed
    SCREENSHOTS.mkdir(exist_ok=True)
    console.screenshot(path=str(SCREENSHOTS / "console-servicer-names.png"), full_page=True)
