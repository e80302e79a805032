"""Screenshots of the console's main pages for the README and the guide, which the console shows
as 使用指南 (src/kefu/console/static/guide/img/*.png).

Starts what `kefu demo` starts (Kefu + the simulator, a temporary data dir), has two
customers write (one taps 转人工 and waits in the pool), then visits each page in Debian's
headless Chromium as the demo's admin and saves a PNG. Run: `.venv/bin/python scripts/screenshots.py`.
A page that is not there (404) is reported and skipped, so the list can run ahead of the pages."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from kefu.demo import Demo

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "kefu" / "console" / "static" / "guide" / "img"
CHROMIUM = "/usr/bin/chromium"
# (file name, path under /console/ — "{account}" and "{conversation}" are filled in)
PAGES = [
    ("console-home", ""),
    ("connections", "connections"),
    ("accounts", "accounts"),
    ("account-reception", "accounts/{account}?tab=reception"),
    ("account-hours", "accounts/{account}?tab=hours"),
    ("account-queue", "accounts/{account}?tab=queue"),
    ("workbench-pool", "workbench/pool"),
    ("conversation", "conversations/{conversation}"),
    ("knowledge", "knowledge"),
    ("reports", "reports"),
    ("audit", "audit"),
]


def customer_writes(page: Page, demo: Demo, index: int, text: str, transfer: bool) -> None:
    page.goto(demo.urls["Customer page (客户)"])
    page.wait_for_selector("#customer option", state="attached")
    page.select_option("#customer", index=index)
    page.click("#enter")
    page.fill("#text", text)
    page.click("#send")
    button = page.locator(".menu-item", has_text="转人工")
    button.first.wait_for()
    if transfer:
        button.first.click()
        page.locator(".row.mine .bubble", has_text="转人工").wait_for()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data, Demo(data_dir=Path(data), port=0, sim_port=0) as demo:
        assert demo.keys is not None
        kefu = demo.urls["Kefu health"].removesuffix("/healthz")
        auth = {"Authorization": f"Bearer {demo.keys.api_token}"}
        account = httpx.get(f"{kefu}/api/v1/accounts", headers=auth).json()[0]["id"]
        # Pool-only routing, so the second customer stays in the pool for the screenshot.
        url = f"{kefu}/api/v1/accounts/{account}/settings"
        settings = httpx.get(url, headers=auth).json()
        settings["routing"] = {"rules": [{"rule": "exclusive"}]}
        httpx.put(url, headers=auth, json=settings).raise_for_status()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
            )
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
            context.set_default_timeout(20_000)
            customer_writes(context.new_page(), demo, 0, "冰箱不制冷了", transfer=False)
            customer_writes(context.new_page(), demo, 1, "洗衣机漏水，能上门修吗", transfer=True)
            conversation = httpx.get(f"{kefu}/api/v1/conversations", headers=auth).json()[0]["id"]
            page = context.new_page()
            page.goto(demo.urls["Kefu console (控制台)"])
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", demo.keys.admin_password)
            page.click("button[type=submit]")
            page.wait_for_url("**/console/")
            base = demo.urls["Kefu console (控制台)"]
            for name, path in PAGES:
                answer = page.goto(base + path.format(account=account, conversation=conversation))
                if answer is None or answer.status != 200:
                    print(f"skipped {name}: {path} answered {answer.status if answer else 'nothing'}")
                    continue
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
                print(f"wrote {OUT.relative_to(ROOT)}/{name}.png")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
