"""接入后设置 → 在线客服账号: each tab shows its fields with the stored values; a refused value is
shown beside its field and nothing is saved; a valid save is read back through the service and
audited. What goes to WeCom (name, 接待人员, the link): test_settings_accounts_wecom.py."""

from __future__ import annotations

import pytest

from kefu.accounts.models import KfAccount
from kefu.runtime import Runtime
from tests.accounts import fixtures as account_fixtures
from tests.accounts import kf_fixtures
from tests.console import account_world
from tests.console.account_world import events, stored
from tests.console.conftest import SignIn
from tests.console.forms import error_beside, form_values

corp, kf = account_fixtures.corp, kf_fixtures.kf
no_check_pauses = account_fixtures._no_check_pauses
account = account_world.account
# A control character pasted into a text (Word's line break), as the page words it.
CONTROL_WORDS = "含有看不见的控制字符（\\x0b，常见于从 Word 粘贴的换行）；请删除后重新输入"


async def test_the_list_shows_each_account_with_its_connection(account: KfAccount, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/accounts")
    assert page.status_code == 200
    assert "售后" in page.text and "售前" in page.text and "qinghe" in page.text and "仅人工接待" in page.text
    assert f'href="/console/accounts/{account.id}"' in page.text


async def test_each_tab_shows_its_fields_with_the_stored_values(
    account: KfAccount, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    tabs = {}
    for tab in ("basic", "reception", "hours", "queue", "advanced"):
        page = await admin.get(f"/console/accounts/{account.id}?tab={tab}")
        assert page.status_code == 200, tab
        for label in ("基础设置", "问答接待规则", "人工接待时间", "排队与分流", "高级功能设置"):
            assert label in page.text
        tabs[tab] = form_values(page.text, "settings-form")
    assert tabs["basic"]["name"] == "售后" and tabs["basic"]["enabled"] == "1"
    assert tabs["basic"]["messages.paused.text"] == "暂停服务中"
    assert tabs["reception"]["reception.mode"] == "human_only"
    assert tabs["reception"]["reception.keyword_transfer.keywords"] == "找人工\n客服"
    assert tabs["reception"]["reception.button_transfer.text"] == "转人工"
    assert tabs["hours"]["hours.weekly.mon"] == "08:30-12:00, 13:00-17:30"
    assert tabs["hours"]["hours.weekly.sat"] == "10:00-16:00" and tabs["hours"]["hours.weekly.sun"] == ""
    assert tabs["hours"]["timezone"] == "Asia/Shanghai" and tabs["hours"]["hours.statutory_holidays"] == "1"
    assert tabs["hours"]["hours.off_hours_message.mode"] == "fixed"
    assert tabs["queue"]["queue.default_max_sessions"] == "4" and tabs["queue"]["queue.max_length"] == "7"
    assert tabs["queue"]["routing.last.use"] == "1" and tabs["queue"]["routing.last.order"] == "1"
    assert (
        tabs["queue"]["routing.last.when_unavailable"] == "wait"
        and tabs["queue"]["routing.idle.order"] == "2"
    )
    assert "routing.exclusive.use" not in tabs["queue"]
    assert tabs["advanced"]["messages.welcome.mode"] == "fixed"
    assert tabs["advanced"]["messages.welcome.text"] == "您好，欢迎咨询青禾家电"


async def test_a_fields_browser_hints_reach_the_browser_as_attributes(
    account: KfAccount, signed_in: SignIn
) -> None:
    # A closed day reads 不接待 (not "不接待" in quotes); the name's 16-character cap stops the
    # typing at 16. The form is not checked by the browser: a refusal is worded by Kefu beside
    # its field, in the reader's language (tests/browser/test_console_journeys.py).
    admin = await signed_in("admin")
    hours = await admin.get(f"/console/accounts/{account.id}?tab=hours")
    assert '<input name="hours.weekly.sun" type="text" value="" placeholder="不接待">' in hours.text
    basic = await admin.get(f"/console/accounts/{account.id}?tab=basic")
    assert 'maxlength="16" required>' in basic.text
    queue = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    assert '<input name="queue.max_length" type="number" value="7" min="1">' in queue.text
    assert "&#34;" not in hours.text + basic.text + queue.text
    assert 'id="settings-form" enctype="multipart/form-data" novalidate>' in queue.text


@pytest.mark.parametrize(
    ("tab", "change", "field", "words"),
    [
        (
            "hours",
            {"hours.weekly.mon": "18:00-09:00"},
            "hours.weekly.mon",
            "18:00-09:00：结束时间早于开始时间；跨午夜请拆成当天 18:00-24:00 和次日 00:00-09:00",
        ),
        (
            "hours",
            {"hours.weekly.tue": "09:00-12:00, 11:00-13:00"},
            "hours.weekly.tue",
            "09:00-12:00 与 11:00-13:00 重叠：请合并，或调整其中一个",
        ),
        (
            "hours",
            {"timezone": "Mars/Olympus"},
            "timezone",
            "“Mars/Olympus”不是已知的时区：请用 IANA 时区名，如 Asia/Shanghai",
        ),
        (
            "hours",
            {"hours.closed_dates": "2026-13-01"},
            "hours.closed_dates",
            "“2026-13-01”不是日期：请写成 年-月-日，如 2026-10-01",
        ),
        (
            "hours",
            {"hours.extra_working_dates": "2026-10-08", "hours.closed_dates": "2026-10-08"},
            "hours.closed_dates",
            "2026-10-08 既是不接待日期，又是额外上班日期",
        ),
        ("queue", {"queue.default_max_sessions": "0"}, "queue.default_max_sessions", "不能小于 1"),
        ("queue", {"queue.max_length": "七"}, "queue.max_length", "“七”不是整数"),
        (
            "queue",
            {"queue.pool_notice.mode": "fixed", "queue.pool_notice.text": "第 {n} 位"},
            "queue.pool_notice.text",
            "这条提示语只能用占位符 {position}，不能用 {n}",
        ),
        (
            "reception",
            {"reception.keyword_transfer.keywords": ""},
            "reception.keyword_transfer.keywords",
            "已启用关键词转人工，但没有填写关键词",
        ),
        (
            "reception",
            {"reception.button_transfer.text": "转" * 43},
            "reception.button_transfer.text",
            "内容有 129 字节（UTF-8，一个汉字占 3 字节），企业微信最多允许 128 字节",
        ),
        ("advanced", {"messages.welcome.text": ""}, "messages.welcome.text", "选择固定话术时须填写话术内容"),
        ("advanced", {"messages.welcome.text": "欢迎\x0b光临"}, "messages.welcome.text", CONTROL_WORDS),
        (
            "hours",
            {"hours.off_hours_message.text": "下班了\x0b明天见"},
            "hours.off_hours_message.text",
            CONTROL_WORDS,
        ),
        (
            "reception",
            {"reception.button_transfer.text": "转\x0b人工"},
            "reception.button_transfer.text",
            CONTROL_WORDS,
        ),
        (
            "advanced",
            {"messages.survey.mode": "fixed", "messages.survey.text": "请评价"},
            "messages.survey.options",
            "发送评价时至少需要一个评价选项（每行：选项文字=分数）",
        ),
        (
            "advanced",
            {"messages.survey.mode": "fixed", "messages.survey.options": "满意=101"},
            "messages.survey.options",
            "第 1 个选项：不能大于 100",
        ),
        (  # each bad line by its number, a line without a score saying so (not “”不是整数)
            "advanced",
            {"messages.survey.mode": "fixed", "messages.survey.options": "非常满意=100\n很好\n\n差=200"},
            "messages.survey.options",
            "第 2 个选项：缺少分数，请写成 选项文字=分数; 第 3 个选项：不能大于 100",
        ),
    ],
)
async def test_a_refused_value_is_shown_beside_its_field_in_chinese_and_nothing_is_saved(
    rt: Runtime,
    account: KfAccount,
    signed_in: SignIn,
    tab: str,
    change: dict[str, str],
    field: str,
    words: str,
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}?tab={tab}")
    before = await stored(rt, account.id)

    refused = await admin.post(
        f"/console/accounts/{account.id}/settings/{tab}",
        data={**form_values(page.text, "settings-form"), **change},
    )

    assert refused.status_code == 422
    assert error_beside(refused.text, field) == words
    assert "未保存" in refused.text
    typed = next(iter(change.values()))
    if typed:
        assert typed in refused.text  # what was typed is kept
    assert await stored(rt, account.id) == before
    assert len(await events(rt, "account.settings.update")) == 1  # the fixture's own save only


@pytest.mark.parametrize(
    ("tab", "change", "field", "words"),
    [
        (
            "hours",
            {"hours.weekly.mon": "18:00-09:00"},
            "hours.weekly.mon",
            "18:00-09:00: the end is before the start; split it at midnight: "
            "18:00-24:00 on this day and 00:00-09:00 on the next",
        ),
        ("queue", {"queue.default_max_sessions": "0"}, "queue.default_max_sessions", "Must be at least 1"),
        (
            "reception",
            {"reception.keyword_transfer.keywords": ""},
            "reception.keyword_transfer.keywords",
            "Keyword transfer is on but lists no keywords",
        ),
        (
            "advanced",
            {"messages.survey.mode": "fixed", "messages.survey.text": "请评价"},
            "messages.survey.options",
            "A survey needs at least one option (one a line: label=score)",
        ),
        (
            "advanced",
            {"messages.survey.mode": "fixed", "messages.survey.options": "Great=100\nFine"},
            "messages.survey.options",
            "Option 2: no score; write label=score",
        ),
        (
            "advanced",
            {"messages.welcome.text": "Welcome\x0bin"},
            "messages.welcome.text",
            "Holds an invisible control character (\\x0b, often a line break pasted from Word); "
            "remove it and type it again",
        ),
    ],
)
async def test_the_english_switch_words_a_refused_value_in_english(
    account: KfAccount, signed_in: SignIn, tab: str, change: dict[str, str], field: str, words: str
) -> None:
    admin = await signed_in("admin")
    admin.cookies.set("kefu_lang", "en")
    page = await admin.get(f"/console/accounts/{account.id}?tab={tab}")
    refused = await admin.post(
        f"/console/accounts/{account.id}/settings/{tab}",
        data={**form_values(page.text, "settings-form"), **change},
    )
    assert refused.status_code == 422 and error_beside(refused.text, field) == words


async def test_a_value_echoed_in_the_words_is_escaped(account: KfAccount, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    typed = '<img src=x onerror="alert(1)">'
    refused = await admin.post(
        f"/console/accounts/{account.id}/settings/queue",
        data={**form_values(page.text, "settings-form"), "queue.max_length": typed},
    )
    assert refused.status_code == 422
    assert error_beside(refused.text, "queue.max_length") == (
        "“&lt;img src=x onerror=&#34;alert(1)&#34;&gt;”不是整数"
    )
    assert typed not in refused.text


async def test_a_valid_save_persists_and_is_audited(
    rt: Runtime, account: KfAccount, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    seeded = len(await events(rt, "account.settings.update"))
    page = await admin.get(f"/console/accounts/{account.id}?tab=hours")
    form = form_values(page.text, "settings-form")
    form |= {
        "hours.weekly.sun": "10:00-12:00",
        "hours.closed_dates": "2026-12-31",
        "hours.statutory_holidays": "",
    }
    del form["hours.statutory_holidays"]

    saved = await admin.post(f"/console/accounts/{account.id}/settings/hours", data=form)

    assert saved.status_code == 303 and saved.headers["location"].endswith("tab=hours&saved=1")
    after = await stored(rt, account.id)
    assert after["hours"]["weekly"]["sun"] == ["10:00-12:00"]
    assert after["hours"]["weekly"]["mon"] == ["08:30-12:00", "13:00-17:30"]  # unchanged fields kept
    assert after["hours"]["closed_dates"] == ["2026-12-31"] and after["hours"]["statutory_holidays"] is False
    assert after["reception"]["mode"] == "human_only"  # other tabs untouched
    audited = await events(rt, "account.settings.update")
    assert len(audited) == seeded + 1
    event = audited[-1]
    assert event.actor == "console:admin0" and event.target == f"account:{account.id}"
    assert event.changes == {
        "hours.closed_dates": [[], ["2026-12-31"]],
        "hours.statutory_holidays": [True, False],
        "hours.weekly.sun": [[], ["10:00-12:00"]],
    }
    shown = await admin.get(saved.headers["location"])
    assert (
        "已保存" in shown.text
        and form_values(shown.text, "settings-form")["hours.weekly.sun"] == "10:00-12:00"
    )


async def test_reception_mode_and_routing_order_are_saved(
    rt: Runtime, account: KfAccount, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}?tab=reception")
    form = form_values(page.text, "settings-form") | {"reception.mode": "ai_first"}
    assert (
        await admin.post(f"/console/accounts/{account.id}/settings/reception", data=form)
    ).status_code == 303
    page = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    form = form_values(page.text, "settings-form")
    form |= {"routing.exclusive.use": "1", "routing.exclusive.order": "1", "routing.last.order": "3"}
    assert (await admin.post(f"/console/accounts/{account.id}/settings/queue", data=form)).status_code == 303
    after = await stored(rt, account.id)
    assert after["reception"]["mode"] == "ai_first"
    assert [(r["rule"], r["when_unavailable"]) for r in after["routing"]["rules"]] == [
        ("exclusive", "next"),
        ("idle", "next"),
        ("last", "wait"),
    ]


def test_every_word_built_from_a_value_exists_in_both_languages() -> None:
    """The tabs name keys from values (a mode, a rule, a weekday, a check's problem), which the
    literal-key scan of test_i18n cannot see."""
    from kefu.accounts import check
    from kefu.console import account_settings_form as forms
    from kefu.console.i18n import messages

    keys = [f"accounts.tab.{tab}" for tab in forms.TABS]
    keys += [f"accounts.day.{day}" for day in forms.WEEKDAYS]
    keys += [f"accounts.rule.{r}{end}" for r in forms.ROUTING_RULES for end in ("", ".hint")]
    keys += [
        f"accounts.mode.{m}{end}" for m in ("ai_first", "ai_only", "human_only") for end in ("", ".hint")
    ]
    keys += [f"settings.mode.{m}" for m in forms.MESSAGE_MODES] + ["accounts.when.next", "accounts.when.wait"]
    problems = [
        v for k, v in vars(check).items() if k.isupper() and isinstance(v, str) and k != "CHECK_RETRY_BASE_S"
    ]
    keys += [f"conn.problem.{p}" for p in problems]
    for lang in ("zh", "en"):
        assert [k for k in keys if k not in messages(lang)] == [], lang


async def test_the_tabs_speak_english_when_asked(account: KfAccount, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    admin.cookies.set("kefu_lang", "en")
    for tab, words in (("reception", "Reception mode"), ("hours", "Monday"), ("queue", "Round robin")):
        page = await admin.get(f"/console/accounts/{account.id}?tab={tab}")
        assert page.status_code == 200 and words in page.text and "Human reception hours" in page.text
    assert "Test connection" in (await admin.get("/console/connections")).text


async def test_ai_modes_need_an_ai_service(rt: Runtime, account: KfAccount, signed_in: SignIn) -> None:
    from kefu.accounts.settings import save_ai_settings
    from kefu.ai.settings import AISettings

    async with rt.db.write() as session:
        none = AISettings(provider="none")
        await save_ai_settings(
            session, none, secrets=rt.secrets, changed_by="t", source="cli", now=rt.clock.now()
        )
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}?tab=reception")
    assert 'value="ai_first" disabled' in page.text and "未配置 AI 服务" in page.text

    form = form_values(page.text, "settings-form") | {"reception.mode": "ai_first"}
    refused = await admin.post(f"/console/accounts/{account.id}/settings/reception", data=form)

    assert refused.status_code == 422
    assert error_beside(refused.text, "reception.mode") == (
        "未配置 AI 服务，不能用 AI 接待：请选择仅人工接待，或先在「AI 设置」中启用内置知识库或大模型"
    )
    assert (await stored(rt, account.id))["reception"]["mode"] == "human_only"


async def test_the_refused_transfer_text_is_edited_on_the_queue_tab(
    rt: Runtime, account: KfAccount, signed_in: SignIn
) -> None:
    """Beside the queue's other texts: shown with today's wording until changed, saved as typed."""
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    assert "转人工未成功提示语" in page.text and "企业微信两次拒绝转人工" in page.text
    form = form_values(page.text, "settings-form")
    assert form["queue.transfer_refused_message.mode"] == "fixed"
    assert form["queue.transfer_refused_message.text"] == "抱歉，暂时无法为您转接人工客服，请稍后再试。"
    form |= {"queue.transfer_refused_message.text": "人工客服暂时接不通，请稍后再试"}
    saved = await admin.post(f"/console/accounts/{account.id}/settings/queue", data=form)
    assert saved.status_code == 303
    after = await stored(rt, account.id)
    assert after["queue"]["transfer_refused_message"] == {
        "mode": "fixed",
        "text": "人工客服暂时接不通，请稍后再试",
    }
    admin.cookies.set("kefu_lang", "en")
    english = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    assert "Transfer failed message" in english.text and "WeCom refuses" in english.text


async def test_the_pool_notice_has_a_text_for_the_first_in_line(
    rt: Runtime, account: KfAccount, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    assert "排在第一位时的排队提示语" in page.text
    form = form_values(page.text, "settings-form")
    assert form["queue.pool_notice.next_in_line_text"] == ""
    form |= {
        "queue.pool_notice.mode": "fixed",
        "queue.pool_notice.text": "正在为您排队，您前面还有 {position} 位",
        "queue.pool_notice.next_in_line_text": "正在为您排队，您是下一位，请稍候",
    }
    assert (await admin.post(f"/console/accounts/{account.id}/settings/queue", data=form)).status_code == 303
    after = await stored(rt, account.id)
    assert after["queue"]["pool_notice"] == {
        "mode": "fixed",
        "text": "正在为您排队，您前面还有 {position} 位",
        "next_in_line_text": "正在为您排队，您是下一位，请稍候",
    }
    form |= {"queue.pool_notice.next_in_line_text": "您是第 {n} 位"}
    refused = await admin.post(f"/console/accounts/{account.id}/settings/queue", data=form)
    assert error_beside(refused.text, "queue.pool_notice.next_in_line_text") == (
        "这条提示语只能用占位符 {position}，不能用 {n}"
    )
    form |= {"queue.pool_notice.next_in_line_text": ""}  # blank: the queue message as written
    assert (await admin.post(f"/console/accounts/{account.id}/settings/queue", data=form)).status_code == 303
    assert (await stored(rt, account.id))["queue"]["pool_notice"]["next_in_line_text"] is None
    admin.cookies.set("kefu_lang", "en")
    english = await admin.get(f"/console/accounts/{account.id}?tab=queue")
    assert "Queue message for the first in line" in english.text
