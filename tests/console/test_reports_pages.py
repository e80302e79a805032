"""报表: the KPI cards, SVG charts and servicer table over the small hand-computed history
(tests/reports/conftest.py), its filters (a bad date shown beside its field), the CSV and the
Excel workbook."""

from __future__ import annotations

import io
import re
from csv import reader

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from kefu.api import users
from kefu.console.i18n import messages
from kefu.console.report_words import COLUMNS, ITEMS, SERVICER_ITEMS, SHEETS
from kefu.reception.models import Rating
from kefu.reports.endings import END_REASONS
from kefu.reports.export import SERVICER_FIELDS, XLSX
from kefu.runtime import Runtime
from tests.console.conftest import PASSWORD, SignIn
from tests.reports.conftest import SmallHistory, add_servicer_session, seed_small_history
from tests.reports.test_api import sheet_rows

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
    # received, ended, passed in, passed on, unanswered (session 3: lisi's, given back without a
    # word), first response, ratings, average
    assert re.search(
        r"<td>zhangsan</td><td>2</td><td>2</td>\s*<td>1</td><td>1</td><td>1</td>\s*"
        r"<td>30 秒</td><td>2</td>\s*<td>50.0</td>",
        table,
    )
    assert kpi(page.text, "between") == "1"
    assert "参评率 100.0%（邀评 3 次）" in page.text
    assert "接入未回复 0 个" in page.text  # a servicer wrote in every session one took
    ends = page.text[page.text.index('id="end-reasons"') :]
    for end in (
        "客服在企业微信中结束: <strong>2</strong>",
        "AI 会话超时结束: <strong>1</strong>",
        "排队超时: <strong>1</strong>",
    ):
        assert end in ends
    assert "在 Kefu 中手动结束（升级前，未记录由谁）: <strong>1</strong>" in ends  # an older row
    assert '<span class="badge badge-warn">1</span>' in table  # zhangsan's take past his cap
    for kind in ("csv", "xlsx"):
        link = f"/console/reports/export.{kind}?{PERIOD}&account_id={small_history.shanghai.id}"
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


async def test_the_downloads(rt: Runtime, signed_in: SignIn, small_history: SmallHistory) -> None:
    supervisor = await signed_in("supervisor")
    query = f"{PERIOD}&account_id={small_history.shanghai.id}"
    csv = await supervisor.get(f"/console/reports/export.csv?{query}")
    assert csv.status_code == 200 and csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "sessions,started,6,会话数" in csv.content.decode("utf-8-sig").splitlines()
    assert (await supervisor.get("/console/reports/export.csv?to=nope")).status_code == 422

    xlsx = await supervisor.get(f"/console/reports/export.xlsx?{query}")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    assert 'filename="kefu-report-2026-11-20-2026-11-25.xlsx"' in xlsx.headers["content-disposition"]
    sheets = sheet_rows(xlsx.content)
    assert list(sheets) == ["汇总", "客服工作量", "每日会话数"]  # for people: the page's words
    assert sheets["汇总"][0] == ["section", "item", "value", "说明"]
    assert ["sessions", "taken_unanswered", 0, "接入未回复会话数"] in sheets["汇总"]
    assert ["end_reason", "queue_timeout", 1, "会话结束方式：排队超时"] in sheets["汇总"]
    assert ["satisfaction", "participation_rate", 1, "参评率"] in sheets["汇总"]
    assert sheets["客服工作量"][:2] == [
        [
            "客服",
            "首次接入",
            "结束会话",
            "转入",
            "转出",
            "接入未回复",
            "首次响应时长中位数（秒）",
            "评价数",
            "平均评分",
            "超上限接入",
        ],
        ["zhangsan", 2, 2, 1, 1, 1, 30, 2, 50, 1],
    ]
    assert sheets["每日会话数"][0] == ["日期", "会话数"]
    assert (
        await supervisor.get("/console/reports/export.xlsx?from=2026-11-25&to=2026-11-20")
    ).status_code == 422
    supervisor.cookies.set("kefu_lang", "en")
    english = sheet_rows((await supervisor.get(f"/console/reports/export.xlsx?{query}")).content)
    assert list(english) == ["Summary", "Servicer load", "Sessions per day"]
    assert english["Servicer load"][0][:6] == [
        "Servicer",
        "First assigned",
        "Ended",
        "Passed in",
        "Passed on",
        "Taken, never answered",
    ]
    servicer = await signed_in("servicer")
    assert (await servicer.get(f"/console/reports/export.xlsx?{query}")).status_code == 403


async def test_a_label_that_reads_as_a_formula_is_guarded(
    rt: Runtime, signed_in: SignIn, small_history: SmallHistory
) -> None:
    """The download's label column starts with a servicer's userid: "=1+2：首次接入" would be a
    formula in Excel. It gets the guard's quote, as any text cell Kefu writes."""
    await add_servicer_session(rt, small_history, "=1+2")
    supervisor = await signed_in("supervisor")
    table = list(
        reader(
            io.StringIO((await supervisor.get(f"/console/reports/export.csv?{PERIOD}")).text.lstrip("\ufeff"))
        )
    )
    assert ["servicer:=1+2", "received", "1", "'=1+2：首次接入"] in table
    workbook = load_workbook(
        io.BytesIO((await supervisor.get(f"/console/reports/export.xlsx?{PERIOD}")).content)
    )
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert [cell.value for cell in cells if cell.data_type == "f"] == []
    assert "=1+2" in [cell.value for cell in cells]  # the servicers sheet: as written, a text cell


def test_every_figure_and_end_has_words() -> None:
    """The downloads' labels and the page's end reasons name their words by key: each exists
    (in both languages: test_i18n holds them to the same keys)."""
    known = set(messages("zh"))
    named = {*ITEMS.values(), *COLUMNS.values(), *SHEETS.values(), *(f"reports.end.{e}" for e in END_REASONS)}
    assert named - known == set()
    assert set(SERVICER_FIELDS) | {"userid"} == set(SERVICER_ITEMS)


async def test_a_rating_label_holding_a_control_character_still_downloads(
    rt: Runtime, signed_in: SignIn, small_history: SmallHistory
) -> None:
    """A survey option's label is the admin's text and each rating keeps it: a rating given before
    labels refused a Word line break (\\x0b) still holds one, and the workbook's label column must
    not fail on it (openpyxl refuses such a character in a cell), as the CSV does not."""
    async with rt.db.write() as session:
        await session.execute(update(Rating).values(label="满意\x0b"))
    supervisor = await signed_in("supervisor")
    xlsx = await supervisor.get(f"/console/reports/export.xlsx?{PERIOD}")
    assert xlsx.status_code == 200
    workbook = load_workbook(io.BytesIO(xlsx.content))
    labels = [cell.value for sheet in workbook for row in sheet for cell in row]
    assert any(isinstance(v, str) and "满意" in v and "\x0b" not in v for v in labels)
