"""The conversation page's transcript in headless Chromium reads like a chat window: it opens at
the latest line, and the live refresh (every 10 s, or on any change) keeps the reader's place
instead of throwing them back to the first line."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.demo import Demo
from tests.browser.test_console import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]
SCROLL = "document.querySelector('#conversation-live .transcript').scrollTop"
LATEST = "(() => { const b = document.querySelector('#conversation-live .transcript');"
LATEST += " return b.scrollHeight - b.scrollTop - b.clientHeight; })()"


def test_the_transcript_opens_at_the_latest_line_and_a_refresh_keeps_the_place(
    demo: Demo, context: Any
) -> None:
    assert demo.keys is not None
    customer = context.new_page()
    customer.goto(demo.urls["Customer page (客户)"])
    customer.fill("#new-nickname", "滚动测试")
    customer.click("#new-customer button")
    customer.locator("#customer option", has_text="滚动测试").wait_for(state="attached")
    customer.select_option("#customer", label="滚动测试")
    customer.click("#enter")
    for text in ("你好", "洗衣机不脱水", "冰箱不制冷", "空调漏水", "热水器不热", "怎么开发票"):
        customer.fill("#text", text)
        customer.click("#send")
        customer.locator("#messages .bubble", has_text=text).first.wait_for()

    console = context.new_page()
    console.set_viewport_size({"width": 1200, "height": 360})  # a transcript taller than its box
    sign_in(console, demo, "admin", demo.keys.admin_password)
    console.goto(demo.urls["Kefu console (控制台)"] + "conversations")
    console.locator("table a").first.click()  # this module's one conversation
    console.locator(".line-customer .bubble", has_text="怎么开发票").wait_for()
    assert console.evaluate(f"{SCROLL} > 100"), "opens scrolled down (the transcript overflows its box)"
    assert console.evaluate(LATEST) < 24, "opens at the latest line"

    console.evaluate(f"{SCROLL} = 40")  # the reader scrolls back to an older line
    with console.expect_response("**/transcript"):
        console.evaluate("htmx.trigger(document.body, 'kefu:changed')")
    console.wait_for_timeout(100)
    assert console.evaluate(SCROLL) == 40, "a refresh keeps the older line in view"

    console.evaluate(f"{SCROLL} = 1e6")  # back at the latest line, a new message arrives
    customer.fill("#text", "还有一个问题")
    customer.click("#send")
    console.locator(".line-customer .bubble", has_text="还有一个问题").wait_for()
    console.wait_for_timeout(100)
    assert console.evaluate(LATEST) < 24, "a new line keeps the latest in view"
