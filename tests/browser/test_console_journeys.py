"""The console's remaining main journeys in headless Chromium (issue 13): the admin connects a
corp through 启用与接入 against the simulator; configures an account through every tab of
接入后设置, a bad value refused beside its field with what was typed kept; and 报表 shows a
customer's session from the simulator with its rating."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kefu.demo import Demo
from kefu.reception.models import Rating, SessionRecord
from kefu.runtime import Runtime
from tests.browser.conftest import run_async
from tests.browser.test_console import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_the_admin_connects_a_corp_against_the_simulator(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="启用与接入").click()
    page.fill("input[name=name]", "second-app")
    page.fill("input[name=corp_id]", demo.keys.corpid)
    page.fill("input[name=secret]", "not-the-secret")
    page.fill("input[name=callback_token]", demo.keys.callback_token)
    page.fill("input[name=aes_key]", demo.keys.encoding_aes_key)
    page.click("form[action='/console/connections'] button[type=submit]")
    page.locator("#check-result", has_text="Secret 不正确").wait_for()  # a wrong secret, said so
    assert page.input_value("input[name=corp_id]") == demo.keys.corpid  # what was typed is kept
    page.fill("input[name=secret]", demo.keys.corp_secret)
    page.fill("input[name=callback_token]", demo.keys.callback_token)
    page.fill("input[name=aes_key]", demo.keys.encoding_aes_key)
    page.click("form[action='/console/connections'] button[type=submit]")
    page.get_by_text("second-app").first.wait_for()
    page.locator("#check-result table", has_text="青禾家电售后").wait_for()  # accounts it may manage
    urls = [box.input_value() for box in page.locator(".copy-box input").all()]
    assert any("/wecom/callback/" in url for url in urls), urls  # the URL to paste into WeCom


def test_the_admin_sets_every_tab_of_an_account(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="接入后设置").click()
    page.locator("#accounts tbody a").first.click()

    def save(tab: str, field: str, value: str) -> None:
        page.locator("nav.tabs a", has_text=tab).click()
        page.locator("nav.tabs a.active", has_text=tab).wait_for()
        page.fill(f"[name='{field}']", value)
        page.click("#save-settings")
        page.locator("#saved", has_text="已保存").wait_for()
        assert page.input_value(f"[name='{field}']") == value

    save("基础设置", "name", "青禾家电售后服务")
    save("问答接待规则", "reception.keyword_transfer.keywords", "转人工\n找客服")
    save("人工接待时间", "hours.weekly.sat", "10:00-16:00")
    save("排队与分流", "queue.max_length", "80")
    save("高级功能设置", "messages.welcome.text", "您好，欢迎咨询青禾家电！")

    page.locator("nav.tabs a", has_text="排队与分流").click()
    page.fill("[name='queue.max_length']", "-3")
    page.click("#save-settings")
    page.locator("[data-error-for='queue.max_length']", has_text="不能小于 1").wait_for()
    assert page.input_value("[name='queue.max_length']") == "-3"  # kept as typed

    kefu = demo.urls["Kefu health"].removesuffix("/healthz")
    auth = {"Authorization": f"Bearer {demo.keys.api_token}"}
    account = httpx.get(f"{kefu}/api/v1/accounts", headers=auth).json()[0]
    saved = httpx.get(f"{kefu}/api/v1/accounts/{account['id']}/settings", headers=auth).json()
    assert account["name"] == "青禾家电售后服务"
    assert saved["reception"]["keyword_transfer"]["keywords"] == ["转人工", "找客服"]
    assert saved["hours"]["weekly"]["sat"] == ["10:00-16:00"]
    assert saved["queue"]["max_length"] == 80  # the refused -3 was not saved
    assert saved["messages"]["welcome"]["text"] == "您好，欢迎咨询青禾家电！"


async def _rate_the_session(demo: Demo, score: int) -> None:
    """The customer's answer to the survey, as the reception stores it (a Rating row)."""
    assert demo.settings is not None
    rt = Runtime.build(demo.settings, clock=demo.clock)
    try:
        async with rt.db.write() as session:
            record = await session.scalar(select(SessionRecord).order_by(SessionRecord.id.desc()).limit(1))
            assert record is not None, "the customer's session has no record"
            session.add(
                Rating(
                    conversation_id=record.conversation_id,
                    session_no=record.session_no,
                    score=score,
                    label="非常满意",
                    created_at=demo.clock.now(),
                )
            )
    finally:
        await rt.close()


def test_the_report_shows_the_customers_session_and_its_rating(demo: Demo, context: Any) -> None:
    assert demo.keys is not None
    customer = context.new_page()
    customer.goto(demo.urls["Customer page (客户)"])
    customer.wait_for_selector("#customer option", state="attached")
    customer.select_option("#customer", index=1)
    customer.click("#enter")
    customer.fill("#text", "冰箱不制冷怎么办")
    customer.click("#send")
    customer.locator(".menu-item", has_text="转人工").first.wait_for()  # the AI answered
    run_async(_rate_the_session(demo, 5))

    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="报表").click()
    assert int(page.locator("#kpi-sessions .kpi-value").inner_text()) >= 1
    satisfaction = page.locator("#kpi-satisfaction")
    assert satisfaction.locator(".kpi-value").inner_text() != "—"
    assert "非常满意（5 分）: 1" in satisfaction.inner_text()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-report-rating.png"), full_page=True)
