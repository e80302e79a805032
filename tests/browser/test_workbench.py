"""The servicer's workbench in headless Chromium: a customer writes 转人工 in the simulator and
appears on 张三's open 排队池 page without reload; 张三 takes them, finds them in 我的会话, reads the
transcript and ends the session — and WeCom's side (the simulator) follows each step."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.demo import Demo
from tests.browser.conftest import customer_writes
from tests.browser.test_console import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_a_customer_asking_for_a_person_is_taken_read_and_ended_live(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    console = context.new_page()
    sign_in(console, demo, "zhangsan", demo.keys.servicer_password)
    console.goto(demo.urls["Kefu console (控制台)"] + "workbench/pool")
    console.locator(".empty", has_text="排队池中暂无客户").wait_for()

    customer = customer_writes(demo, context, "转人工")

    # The open pool page learns of the customer by itself (no reload, no navigation).
    row = console.locator(".pool-row", has_text="转人工")
    row.wait_for()
    assert console.url.endswith("/console/workbench/pool")
    row.locator("button", has_text="接入").click()
    console.wait_for_url("**/console/workbench/sessions**")
    mine = console.locator(".session-row")
    mine.wait_for()
    customer.locator("#session-state", has_text="人工接待（张三）").wait_for()

    mine.locator("a", has_text="查看").click()
    console.wait_for_url("**/console/conversations/*")
    console.locator(".line-customer .bubble", has_text="转人工").wait_for()
    console.locator("#conversation-state", has_text="人工接待").wait_for()

    customer.fill("#text", "我的冰箱不制冷")
    customer.click("#send")
    console.locator(".line-customer .bubble", has_text="我的冰箱不制冷").wait_for()  # live, too

    console.on("dialog", lambda dialog: dialog.accept())
    console.locator("button", has_text="结束会话").click()
    console.locator(".flash-ok", has_text="已请求结束会话").wait_for()
    console.locator("#conversation-state", has_text="已结束").wait_for()
    customer.locator("#session-state", has_text="已结束").wait_for()
