"""报表: the KPI cards, SVG charts and servicer table over the small hand-computed history
(tests/reports/conftest.py), its filters (a bad date shown beside its field) and the CSV."""

from __future__ import annotations

import re

import pytest

from kefu.api import users
from kefu.runtime import Runtime
from tests.console.conftest import PASSWORD, SignIn
from tests.reports.conftest import SmallHistory, seed_small_history

PERIOD = "from=2026-11-20&to=2026-11-25"


@pytest.fixture
async def small_history(rt: Runtime) -> SmallHistory:
    return await seed_small_history(rt)


def kpi(html: str, card: str) -> str:
    found = re.search(rf'id="kpi-{card}".*?class="kpi-value">([^<]*)<', html, re.S)
    assert found, card
    return found.group(1).strip()


async def test_the_figures_of_one_account(signed_in: SignIn, small_history: SmallHistory) -> None:
    supervisor = await signed_in("supervisor")
    page = await supervisor.get(f"/console/reports?{PERIOD}&account_id={small_history.shanghai.id}")
    assert page.status_code == 200 and "<h1>报表</h1>" in page.text
    assert kpi(page.text, "sessions") == "6"
    assert kpi(page.text, "ai-only") == "20.0%"
    assert kpi(page.text, "transfer") == "66.7%"
    assert kpi(page.text, "wait") == "2 分 0 秒"
    assert kpi(page.text, "first-response") == "30 秒"
    assert kpi(page.text, "satisfaction") == "53.33"
    assert "满意（100 分）: 1" in page.text and "不满意（0 分）: 1" in page.text  # not a bare 0: 1
    assert "docs/reports.md" not in page.text  # a path in the repository a team lead cannot open
    assert '<a href="/console/help">各项含义详见使用指南的「报表」一节</a>' in page.text
    assert page.text.count('<svg class="bar-chart"') == 3
    assert "<title>11-23: 3</title>" in page.text  # sessions per day, in Shanghai's days
    assert "关键词: <strong>1</strong>" in page.text
    table = page.text[page.text.index('id="servicer-load"') :]
    assert re.search(
        r"<td>zhangsan</td><td>2</td><td>2</td>\s*<td>30 秒</td><td>2</td>\s*<td>50.0</td>", table
    )
    assert '<span class="badge badge-warn">1</span>' in table  # zhangsan's take past his cap
    link = f"/console/reports/export.csv?{PERIOD}&account_id={small_history.shanghai.id}"
    assert f'href="{link.replace("&", "&amp;")}"' in page.text


async def test_a_servicer_is_shown_by_the_name_of_the_console_user_bound_to_them(
    rt: Runtime, signed_in: SignIn, small_history: SmallHistory
) -> None:
    async with rt.db.write() as session:
        await users.create_user(
            session,
            username="zs",
            password=PASSWORD,
            role="servicer",
            wecom_userid="zhangsan",
            display_name="张三",
        )
    page = await (await signed_in("supervisor")).get(f"/console/reports?{PERIOD}")
    table = page.text[page.text.index('id="servicer-load"') :]
    assert '<td>张三 <span class="muted">zhangsan</span></td>' in table


async def test_all_accounts_by_default_and_in_english(signed_in: SignIn, small_history: SmallHistory) -> None:
    admin = await signed_in("admin")
    admin.cookies.set("kefu_lang", "en")
    page = await admin.get("/console/reports")
    assert page.status_code == 200 and "<h1>Reports</h1>" in page.text
    assert 'value="2026-11-19"' in page.text and 'value="2026-11-25"' in page.text  # the last 7 days
    assert kpi(page.text, "sessions") == "8"


async def test_bad_filters_are_shown_beside_their_field(
    signed_in: SignIn, small_history: SmallHistory
) -> None:
    admin = await signed_in("admin")
    bad = await admin.get("/console/reports?from=2026-13-01")
    assert bad.status_code == 422 and "field-error" in bad.text and "日期格式应为" in bad.text
    assert 'id="kpi-sessions"' not in bad.text
    backwards = await admin.get("/console/reports?from=2026-11-25&to=2026-11-20")
    assert backwards.status_code == 422 and "开始日期不能晚于结束日期" in backwards.text
    unknown = await admin.get("/console/reports?account_id=999")
    assert unknown.status_code == 422 and "客服账号（ID 999）不存在" in unknown.text


async def test_the_csv_download(signed_in: SignIn, small_history: SmallHistory) -> None:
    supervisor = await signed_in("supervisor")
    csv = await supervisor.get(f"/console/reports/export.csv?{PERIOD}&account_id={small_history.shanghai.id}")
    assert csv.status_code == 200 and csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "sessions,started,6,会话数" in csv.content.decode("utf-8-sig").splitlines()
    assert (await supervisor.get("/console/reports/export.csv?to=nope")).status_code == 422
