"""The first run a newcomer makes, in headless Chromium, on a Saturday evening: write as a
customer, tap 转人工 under the AI's answer, and routing hands the customer to a servicer (张三,
idle: the demo's servicers are read from WeCom when the account is connected)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kefu.clock import Clock
from kefu.demo import Demo
from tests.browser.conftest import customer_writes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# Saturday 28 November 2026, 20:30 in Shanghai: outside any office hours.
WEEKEND_EVENING = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def weekend_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    clock = Clock(start=WEEKEND_EVENING)
    with Demo(data_dir=tmp_path_factory.mktemp("weekend"), port=0, sim_port=0, clock=clock) as started:
        yield started


def test_tapping_the_button_on_a_weekend_evening_reaches_a_servicer(weekend_demo: Demo, context: Any) -> None:
    demo = weekend_demo
    assert demo.simulator is not None and demo.keys is not None
    customer = customer_writes(demo, context, "冰箱不制冷怎么办")
    # The AI answers with the 转人工 button; the customer taps it.
    button = customer.locator(".menu-item", has_text="转人工")
    button.wait_for()
    button.click()
    customer.locator(".row.mine .bubble", has_text="转人工").wait_for()

    servicer = context.new_page()
    servicer.goto(f"{demo.urls['Servicer page (客服)']}?corpid={demo.keys.corpid}&userid=zhangsan")
    mine = servicer.locator("#mine li", has_text="小林")
    mine.wait_for()
    mine.click()
    servicer.locator("#conv-state", has_text="人工接待（张三）").wait_for()
    customer.locator("#session-state", has_text="人工接待（张三）").wait_for()
    assert customer.locator(".row.theirs", has_text="非人工接待时间").count() == 0
