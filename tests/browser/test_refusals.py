"""A service's refusal in headless Chromium, in the reader's language: each page family's form
or action that a service can refuse (在线客服账号 and its page, 启用与接入, 用户 and API 令牌,
the pool's 分配接入, a conversation's 转接 and 结束, 留言, 报表, the error page) says why in
Chinese, and in English once the reader switches.

A page left open while someone else acts is the usual way to be refused: `stale` is a second
browser profile whose pages do not re-read themselves (no htmx: no live updates), as a page opened
before the change and not yet re-read (its forms are plain HTML forms)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kefu.accounts.models import KfAccount
from kefu.demo import Demo
from kefu.reception.models import Conversation, FollowUp
from kefu.runtime import Runtime
from tests.browser.conftest import customer_writes, run_async
from tests.browser.test_console import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture
def stale(browser: Any) -> Iterator[Any]:
    made = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 820})
    made.route(
        re.compile(r"/static/htmx-"), lambda route: route.abort()
    )  # no re-reads: a page stays as loaded
    made.set_default_timeout(15_000)
    yield made
    made.close()


def console_url(demo: Demo, path: str) -> str:
    return demo.urls["Kefu console (控制台)"] + path


def admin_page(demo: Demo, context: Any) -> Any:
    assert demo.keys is not None
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # 结束's confirm()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    return page


def english(page: Any) -> None:
    """The reader switches to English (the header's language switch)."""
    page.locator(".lang-switch a", has_text="EN").click()
    page.wait_for_load_state()


def field_error(page: Any, name: str) -> str:
    """The words beside the form field `name`."""
    text: str = page.locator(f"label:has([name='{name}']) .error-text").inner_text()
    return text


def test_the_account_pages_say_why_in_the_readers_language(demo: Demo, context: Any) -> None:
    page = admin_page(demo, context)
    page.goto(console_url(demo, "accounts"))
    new = page.locator("#new-account form")
    new.locator("input[name=name]").fill("   ")  # only spaces: no name at all
    new.locator("button[type=submit]").click()
    assert field_error(page, "name") == "名称须为 1–16 个字符（企业微信的规定）"

    page.goto(console_url(demo, "accounts"))
    page.locator("a.button", has_text="设置").first.click()
    account_url = page.url.split("?")[0]
    servicer_form = page.locator("#servicers form.grid-form")
    servicer_form.locator("input[name=userid]").fill("   ")
    servicer_form.locator("button[type=submit]").click()
    assert field_error(page, "userid") == "接待人员的 userid 须为 1–64 个字符"

    page.goto(account_url)
    page.locator("#contact input[name=scene]").fill("春季 活动!")
    page.locator("#contact button[type=submit]").click()
    assert field_error(page, "scene") == "场景值须为 1–32 个字母、数字、“_”或“-”"

    page.goto(account_url)
    picture = {"name": "logo.png", "mimeType": "image/png", "buffer": b"not a picture"}
    page.locator("#settings-form input[name=avatar]").set_input_files(picture)
    page.click("#save-settings")
    assert field_error(page, "avatar") == "头像“logo.png”须为 PNG 或 JPEG 图片"

    english(page)
    page.goto(account_url)
    page.locator("#settings-form input[name=avatar]").set_input_files(picture)
    page.click("#save-settings")
    assert field_error(page, "avatar") == "The avatar “logo.png” must be a PNG or JPEG image"


def test_the_connection_and_system_pages_say_why_in_the_readers_language(demo: Demo, context: Any) -> None:
    page = admin_page(demo, context)
    page.goto(console_url(demo, "connections"))
    new = page.locator("#new-connection form")
    values = {
        "name": "qinghe-demo",  # the demo's own connection
        "corp_id": "ww0123456789",
        "secret": "s3cret",
        "callback_token": "token1",
        "aes_key": "a" * 43,
    }
    for name, value in values.items():
        new.locator(f"input[name={name}]").fill(value)
    new.locator("button[type=submit]").click()
    assert field_error(page, "name") == "已有名为“qinghe-demo”的接入，请换一个名称"
    new.locator("input[name=name]").fill("another")
    new.locator("input[name=corp_id]").fill("ww 0123")
    for name in ("secret", "callback_token", "aes_key"):  # secrets are typed again
        new.locator(f"input[name={name}]").fill(values[name])
    new.locator("button[type=submit]").click()
    assert field_error(page, "corp_id").startswith("corpid 须为企业微信的企业ID")

    gone = page.goto(console_url(demo, "connections/99999"))
    assert gone is not None and gone.status == 404
    assert page.locator(".card.empty p").first.inner_text() == "接入（ID 99999）不存在，可能已被删除"

    page.goto(console_url(demo, "users"))
    new_user = page.locator("form[action='/console/users']")
    new_user.locator("input[name=username]").fill("zhangsan")  # the demo's servicer
    new_user.locator("input[name=password]").fill("long enough 1")
    new_user.locator("select[name=role]").select_option(label="主管")
    new_user.locator("button[type=submit]").click()
    assert field_error(page, "username") == "用户名“zhangsan”已被使用"

    page.goto(console_url(demo, "tokens"))
    for _ in range(2):
        page.fill("input[name=name]", "erp")
        page.locator("form[action='/console/tokens'] button[type=submit]").click()
    assert field_error(page, "name") == "已有名为“erp”的令牌；请先吊销它，或换一个名称"
    english(page)
    page.goto(console_url(demo, "tokens"))
    page.fill("input[name=name]", "erp")
    page.locator("form[action='/console/tokens'] button[type=submit]").click()
    assert (
        field_error(page, "name")
        == "A token named “erp” already exists; revoke it first or choose another name"
    )


def test_a_stale_pool_and_conversation_page_are_refused_in_the_readers_language(
    demo: Demo, context: Any, stale: Any
) -> None:
    assert demo.keys is not None
    customer_writes(demo, context, "转人工")

    live, behind = admin_page(demo, context), admin_page(demo, stale)
    for page in (live, behind):
        page.goto(console_url(demo, "workbench/pool"))
        page.locator(".pool-row", has_text="转人工").wait_for()
    row = live.locator(".pool-row", has_text="转人工")
    row.locator("select").select_option("zhangsan")
    row.locator("button", has_text="分配接入").click()
    live.wait_for_url("**/console/workbench/sessions**")
    session = live.locator(".session-row")
    session.locator("select[name=servicer_userid]").wait_for()  # once WeCom has handed it over

    late = behind.locator(".pool-row", has_text="转人工")
    late.locator("select").select_option("lisi")
    late.locator("button", has_text="分配接入").click()
    assert behind.locator(".flash-error").inner_text() == "该客户已由 张三 接待"

    conversation = session.locator("a").first.get_attribute("href")
    for page in (live, behind):
        page.goto(demo.urls["Kefu console (控制台)"].removesuffix("/console/") + conversation)
        page.locator("#conversation-state", has_text="人工接待（张三）").wait_for()
    live.locator(".transfer-form select").select_option("lisi")
    live.locator(".transfer-form button").click()
    live.locator("#conversation-state", has_text="人工接待（李四）").wait_for()
    behind.locator(".transfer-form select").select_option("lisi")
    behind.locator(".transfer-form button").click()
    assert behind.locator(".flash-error").inner_text() == "该客户已由 李四 接待"

    live.locator(".end-form button").click()
    live.locator("#conversation-state", has_text="已结束").wait_for()
    behind.locator(".end-form button").click()
    assert behind.locator(".flash-error").inner_text() == (
        "该会话既不在人工接待中，也不在接待池中等待，无需结束"
    )


async def _follow_up(demo: Demo) -> None:
    """An open follow-up (留言) on the demo's account, written as its own process would."""
    assert demo.settings is not None
    rt = Runtime.build(demo.settings, clock=demo.clock)
    try:
        now = rt.clock.now()
        async with rt.db.write() as session:
            account = (await session.scalars(select(KfAccount))).first()
            assert account is not None
            conversation = Conversation(
                account_id=account.id, external_userid="wmFollowUp01", created_at=now, updated_at=now
            )
            session.add(conversation)
            await session.flush()
            session.add(
                FollowUp(
                    account_id=account.id,
                    conversation_id=conversation.id,
                    reason="off_hours",
                    opened_at=now,
                    last_message_at=now,
                )
            )
    finally:
        await rt.close()


def test_a_follow_up_closed_meanwhile_and_a_backwards_report_say_why(
    demo: Demo, context: Any, stale: Any
) -> None:
    run_async(_follow_up(demo))
    live, behind = admin_page(demo, context), admin_page(demo, stale)
    for page in (live, behind):
        page.goto(console_url(demo, "workbench/follow-ups"))
    live.locator("button", has_text="标记为已处理").first.click()
    live.wait_for_url("**closed=1**")
    behind.locator("button", has_text="标记为已处理").first.click()
    assert behind.locator(".flash-error").inner_text() == "这条留言已由 admin 处理"

    live.goto(console_url(demo, "reports?from=2026-11-25&to=2026-11-20"))
    assert field_error(live, "from") == "开始日期不能晚于结束日期"
    english(live)
    assert field_error(live, "from") == "The start date must not be after the end date"
