"""The customer and servicer pages in headless Chromium, against `kefu demo`'s wiring.

Each test plays a different demo customer, so the tests share one demo (one world)
without depending on each other's order.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from kefu.db.engine import sync_url
from kefu.demo import Demo
from kefu.demo_corp import CUSTOMERS
from kefu.http_client import HttpClient
from kefu.wecom.outbound import MenuClick, MenuOut, MenuText, MenuView
from tests.browser.conftest import run_async, to_pool, wecom_client

# One demo and one Chromium for the module, even under xdist.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# A 2x2 PNG the customer "picks" with the file chooser.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNgYGD4z8DAwMDEwMDAAAAbBQEBsYOxJQAAAABJRU5ErkJggg=="
)


def kefu_stored_texts(demo, timeout_s: float = 15.0) -> list[str]:  # type: ignore[no-untyped-def]
    """Customer texts in Kefu's own database, waiting (real time) for the demo's worker."""
    engine = create_engine(sync_url(demo.settings.database_url))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                payloads = conn.execute(text("SELECT payload FROM messages WHERE origin = 3")).scalars().all()
            texts = [
                (json.loads(p) if isinstance(p, str) else p).get("text", {}).get("content") for p in payloads
            ]
            if texts or time.monotonic() > deadline:
                return [t for t in texts if t]
            time.sleep(0.1)
    finally:
        engine.dispose()


def customer_id(demo: Demo, nickname: str) -> str:
    assert demo.keys is not None
    return demo.keys.customer_ids[CUSTOMERS.index(nickname)]


def same_origin_only(page: Any, origin: str) -> list[str]:
    """Collect every request the page makes that leaves its origin (no CDN, no tracker)."""
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((origin + "/", "data:")) else outside.append(r.url))
    return outside


def test_a_customer_message_reaches_the_servicer_who_takes_it_and_the_reply_comes_back(
    demo: Demo, context: Any, tmp_path: Path
) -> None:
    assert demo.simulator is not None and demo.keys is not None
    sim = demo.simulator.url
    customer = context.new_page()
    outside = same_origin_only(customer, sim)
    errors: list[str] = []
    customer.on("pageerror", lambda e: errors.append(str(e)))

    # The customer (小林, the first demo customer) enters and writes.
    customer.goto(f"{sim}/_sim/customer")
    customer.wait_for_selector("#customer option", state="attached")
    assert customer.input_value("#customer") == customer_id(demo, "小林")
    customer.click("#enter")
    customer.fill("#text", "你好，我的洗衣机不转了")
    customer.click("#send")
    customer.locator(".row.mine .bubble", has_text="你好，我的洗衣机不转了").wait_for()

    # The demo account is AI first: put the session in the pool as a transfer would, through the WeCom API.
    to_pool(demo, customer_id(demo, "小林"))

    servicer = context.new_page()
    outside += same_origin_only(servicer, sim)
    servicer.on("pageerror", lambda e: errors.append(str(e)))
    servicer.goto(f"{sim}/_sim/servicer?corpid={demo.keys.corpid}&userid=zhangsan")
    waiting = servicer.locator("#pool li", has_text="小林")
    waiting.wait_for()
    assert "等待" in waiting.inner_text()
    waiting.click()
    servicer.locator("#take").click()
    servicer.locator("#conv-state", has_text="人工接待（张三）").wait_for()
    servicer.locator("#mine li", has_text="小林").wait_for()
    servicer.locator("#timeline .row.customer .bubble", has_text="你好，我的洗衣机不转了").wait_for()

    servicer.fill("#reply", "您好，我是张三。请问洗衣机是什么型号？")
    servicer.click("#reply-send")
    servicer.locator("#timeline .row.servicer", has_text="请问洗衣机是什么型号").wait_for()

    # The reply arrives on the customer's phone, live.
    reply = customer.locator(".row.theirs", has_text="请问洗衣机是什么型号")
    reply.wait_for()
    assert "张三" in reply.inner_text()
    customer.locator("#session-state", has_text="人工接待（张三）").wait_for()

    # What WeChat and the WeCom app would show, for a person to look at.
    customer.screenshot(path=str(tmp_path / "customer.png"))
    servicer.screenshot(path=str(tmp_path / "servicer.png"))
    assert (tmp_path / "customer.png").stat().st_size > 10_000

    # The customer got the servicer's reply once; anything else came from Kefu's API sends
    # (the welcome, and the AI's answer if it came before the session went to the pool).
    inbox = demo.simulator.control("GET", f"customers/{customer_id(demo, '小林')}/inbox")["messages"]
    replies = [m for m in inbox if m["source"] not in ("send_msg", "send_msg_on_event")]
    assert [m["body"]["content"] for m in replies] == ["您好，我是张三。请问洗衣机是什么型号？"]
    # Kefu pulled the customer's message through the callback (the demo is really wired).
    assert "你好，我的洗衣机不转了" in kefu_stored_texts(demo)
    assert outside == [] and errors == []


def test_the_servicer_transfers_ends_and_retakes_and_toggles_reception(demo: Demo, context: Any) -> None:
    assert demo.simulator is not None and demo.keys is not None
    sim, open_kfid = demo.simulator.url, demo.keys.open_kfid
    wang = customer_id(demo, "王女士")
    demo.simulator.control(
        "POST",
        f"customers/{wang}/messages",
        {"open_kfid": open_kfid, "msgtype": "text", "text": {"content": "空调漏水怎么办"}},
    )
    to_pool(demo, wang)
    page = context.new_page()
    page.goto(f"{sim}/_sim/servicer?corpid={demo.keys.corpid}&userid=zhangsan")
    page.locator("#pool li", has_text="王女士").click()
    page.locator("#take").click()
    page.locator("#conv-state", has_text="人工接待（张三）").wait_for()

    page.select_option("#transfer-to", "lisi")
    page.click("#transfer")
    page.locator("#conv-state", has_text="人工接待（李四）").wait_for()
    page.locator("#timeline .note", has_text="张三 将会话转接给 李四").wait_for()
    page.locator("#served li", has_text="王女士").wait_for()
    assert page.locator("#reply").is_disabled()  # no longer mine

    page.select_option("#servicer", f"{demo.keys.corpid}|lisi")
    page.locator("#mine li", has_text="王女士").click()
    page.locator("#end").click()
    page.locator("#conv-state", has_text="已结束").wait_for()
    page.locator("#retake").click()
    page.locator("#conv-state", has_text="人工接待（李四）").wait_for()
    page.locator("#timeline .note", has_text="李四 重新接入会话").wait_for()
    session = demo.simulator.control("GET", f"accounts/{open_kfid}/sessions/{wang}")
    assert (session["state"], session["servicer_userid"]) == (3, "lisi")

    page.select_option("#servicer", f"{demo.keys.corpid}|wangwu")
    page.locator("#my-status", has_text="接待中").wait_for()
    page.click("#toggle-reception")
    page.locator("#my-status", has_text="停止接待").wait_for()
    wangwu = next(
        m
        for m in demo.simulator.control("GET", f"corps/{demo.keys.corpid}")["members"]
        if m["userid"] == "wangwu"
    )
    assert wangwu["status"] == 1  # servicer/list encoding: 1 = 停止接待
    page.click("#toggle-reception")
    page.locator("#my-status", has_text="接待中").wait_for()


def test_a_new_customer_gets_the_welcome_and_a_menu_taps_it_sends_a_picture_and_recalls(
    demo: Demo, context: Any, tmp_path: Path
) -> None:
    assert demo.simulator is not None and demo.keys is not None
    sim, open_kfid = demo.simulator.url, demo.keys.open_kfid
    page = context.new_page()
    page.goto(f"{sim}/_sim/customer")
    page.wait_for_selector("#customer option", state="attached")
    page.fill("#new-nickname", "赵先生")
    page.click("#new-customer button")
    page.locator("#customer option:checked", has_text="赵先生").wait_for(state="attached")
    zhao = page.input_value("#customer")
    page.click("details summary")
    page.fill("#scene", "qinghe_site")
    page.click("#enter")
    page.locator("#toast", has_text="已进入会话").wait_for()

    # Kefu's welcome answers the enter_session event (its code is single-use); then a menu
    # through the API, as a servicer's tool would send one.
    page.locator(".row.theirs", has_text="欢迎咨询青禾家电售后").wait_for()
    menu = MenuOut(
        head_content="您好，欢迎咨询青禾家电！请选择：",
        items=[
            MenuClick(id="repair", content="我要报修"),
            MenuView(url="https://example.com/help", content="自助查询"),
            MenuText(content="服务时间 9:00-18:00"),
        ],
        tail_content="感谢您的耐心",
    )

    async def send_menu() -> None:
        async with HttpClient(timeout_s=10.0) as http:
            await wecom_client(demo, http).send_msg(
                touser=zhao, open_kfid=open_kfid, msgid="menu-zhao", message=menu
            )

    page.fill("#text", "你好")
    page.click("#send")
    page.locator(".row.mine .bubble", has_text="你好").wait_for()
    run_async(send_menu())
    page.locator(".menu-head", has_text="欢迎咨询青禾家电").wait_for()
    assert page.locator(".menu a.menu-item").get_attribute("href") == "https://example.com/help"
    page.locator(".menu-item[data-menu-id=repair]").click()
    page.locator(".row.mine .bubble", has_text="我要报修").wait_for()
    items = demo.simulator.control("GET", f"accounts/{open_kfid}/stream")["items"]
    clicked = [
        i["item"] for i in items if i["item"].get("external_userid") == zhao and i["item"]["origin"] == 3
    ]
    assert clicked[-1]["text"] == {"content": "我要报修", "menu_id": "repair"}

    picture = tmp_path / "photo.png"
    picture.write_bytes(PNG)
    page.set_input_files("#image-file", str(picture))
    image = page.locator(".row.mine img.picture")
    image.wait_for()
    shown = httpx.get(sim + image.get_attribute("src"))
    assert shown.content == PNG and shown.headers["content-type"] == "image/png"

    page.fill("#text", "这条发错了")
    page.click("#send")
    page.locator(".row.mine .bubble", has_text="这条发错了").wait_for()
    page.click("#recall")
    page.locator(".note", has_text="你撤回了一条消息").wait_for()
    assert page.locator(".row.mine .bubble", has_text="这条发错了").count() == 0
    page.screenshot(path=str(tmp_path / "customer-menu.png"))
