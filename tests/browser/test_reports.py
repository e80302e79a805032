"""报表 in headless Chromium: the demo's admin opens the page from the menu over a week of
seeded history, sees the KPI cards with the database's numbers and the SVG charts, filters
by the account, and downloads the CSV and the Excel workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from kefu.accounts.models import KfAccount
from kefu.demo import Demo
from kefu.reception.models import SessionRecord
from kefu.runtime import Runtime
from tests.browser.conftest import run_async
from tests.browser.test_console import SCREENSHOTS, sign_in
from tests.history import seed_history

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


async def _seed(demo: Demo) -> tuple[int, int]:
    """A week of history for the demo's account (through the models, from its own process's
    point of view: a separate Runtime on the same database); returns (sessions, account id)."""
    assert demo.settings is not None
    rt = Runtime.build(demo.settings, clock=demo.clock)
    try:
        async with rt.db.read() as session:
            accounts = list((await session.scalars(select(KfAccount))).all())
        await seed_history(rt, 40, accounts=accounts, end=demo.clock.now(), days=5)
        async with rt.db.read() as session:
            query = select(func.count()).select_from(SessionRecord).where(SessionRecord.kind == "normal")
            return int(await session.scalar(query) or 0), accounts[0].id
    finally:
        await rt.close()


def test_the_admin_reads_the_weeks_report(demo: Demo, context: Any, tmp_path: Path) -> None:
    assert demo.keys is not None
    sessions, account_id = run_async(_seed(demo))
    page = context.new_page()
    sign_in(page, demo, "admin", demo.keys.admin_password)
    page.locator("nav.sidebar a", has_text="报表").click()
    page.locator("h1", has_text="报表").wait_for()
    assert page.locator("#kpi-sessions .kpi-value").inner_text() == str(sessions)
    assert page.locator("#kpi-ai-only .kpi-value").inner_text().endswith("%")
    charts = page.locator("svg.bar-chart")
    assert charts.count() == 3
    assert charts.first.locator("rect.bar").count() == 7  # one bar a day
    assert page.locator("#servicer-load tbody tr").count() >= 1

    page.select_option("select[name=account_id]", str(account_id))
    page.click("form.reports-filter button[type=submit]")
    page.wait_for_url(f"**account_id={account_id}**")
    assert page.locator("#kpi-sessions .kpi-value").inner_text() == str(sessions)  # the only account
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-reports.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#reports-csv")
    saved = tmp_path / "report.csv"
    download.value.save_as(saved)
    # The console's download says what each row is in the reader's language (a fourth column).
    assert f"sessions,started,{sessions},会话数" in saved.read_text(encoding="utf-8-sig").splitlines()

    with page.expect_download() as download:
        page.click("#reports-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    download.value.save_as(tmp_path / "report.xlsx")
    workbook = load_workbook(tmp_path / "report.xlsx")
    assert workbook.sheetnames == ["汇总", "客服工作量", "每日会话数"]
    days = list(workbook["每日会话数"].iter_rows(min_row=2, values_only=True))
    assert len(days) == 7 and sum(n for _, n in days) == sessions
