"""/api/v1/reports over HTTP: the JSON summary, the CSV and XLSX, a token required, bad input refused."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import load_workbook

from kefu.app import create_app
from kefu.reports.export import XLSX
from kefu.runtime import Runtime
from tests.factories import api_client
from tests.reports.conftest import SmallHistory, add_servicer_session

PERIOD = {"from": "2026-11-20", "to": "2026-11-25"}


async def test_the_summary_as_json(rt: Runtime, small_history: SmallHistory) -> None:
    async with api_client(rt) as client:
        answer = await client.get(
            "/api/v1/reports/summary", params={**PERIOD, "account_id": small_history.shanghai.id}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["sessions_started"], body["transferred"], body["ai_only_rate"]) == (6, 4, 0.2)
        assert body["waiting"] == {"count": 3, "median_s": 120, "p90_s": 300}
        assert body["satisfaction"]["distribution"] == {"0": 1, "60": 1, "100": 1}
        everyone = (await client.get("/api/v1/reports/summary")).json()  # the last 7 days, all accounts
        assert (everyone["first_day"], everyone["last_day"], everyone["sessions_started"]) == (
            "2026-11-19",
            "2026-11-25",
            8,
        )


async def test_the_summary_as_csv(rt: Runtime, small_history: SmallHistory) -> None:
    async with api_client(rt) as client:
        answer = await client.get(
            "/api/v1/reports/export.csv", params={**PERIOD, "account_id": small_history.shanghai.id}
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="kefu-report-2026-11-20-2026-11-25.csv"' in answer.headers["content-disposition"]
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "section,item,value"
    for line in (
        "sessions,started,6",
        "sessions,ai_only_rate,0.2",
        "transfer_reason,keyword,1",
        "waiting,median_s,120",
        "day,2026-11-23,3",
        "servicer:zhangsan,received,2",
        "satisfaction,average,53.33",
    ):
        assert line in lines


async def test_refusals(rt: Runtime, small_history: SmallHistory) -> None:
    app = create_app(runtime=rt, run_worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kefu.test"
    ) as anonymous:
        for path in ("/api/v1/reports/summary", "/api/v1/reports/export.csv", "/api/v1/reports/export.xlsx"):
            assert (await anonymous.get(path)).status_code == 401
    async with api_client(rt) as client:
        backwards = await client.get(
            "/api/v1/reports/summary", params={"from": "2026-11-25", "to": "2026-11-20"}
        )
        assert backwards.status_code == 422 and "from must not be after to" in backwards.text
        assert (await client.get("/api/v1/reports/summary", params={"from": "yesterday"})).status_code == 422
        assert (await client.get("/api/v1/reports/summary", params={"account_id": 999})).status_code == 404
        assert (await client.get("/api/v1/reports/export.csv", params={"account_id": 0})).status_code == 422
        late = await client.get(
            "/api/v1/reports/export.xlsx", params={"from": "2026-11-25", "to": "2026-11-20"}
        )
        assert late.status_code == 422


def sheet_rows(content: bytes) -> dict[str, list[list[Any]]]:
    """Each sheet of a workbook by name: its rows of values."""
    workbook = load_workbook(io.BytesIO(content))
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}


async def test_the_summary_as_xlsx(rt: Runtime, small_history: SmallHistory) -> None:
    async with api_client(rt) as client:
        answer = await client.get(
            "/api/v1/reports/export.xlsx", params={**PERIOD, "account_id": small_history.shanghai.id}
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    assert 'filename="kefu-report-2026-11-20-2026-11-25.xlsx"' in answer.headers["content-disposition"]
    sheets = sheet_rows(answer.content)
    assert list(sheets) == ["summary", "servicers", "days"]
    summary = sheets["summary"]
    assert summary[0] == ["section", "item", "value"]
    figures = {(section, item): value for section, item, value in summary[1:]}
    assert {
        key: figures[key]
        for key in (
            ("sessions", "started"),
            ("sessions", "ai_only_rate"),
            ("sessions", "transferred_between_servicers"),
            ("sessions", "taken_unanswered"),
            ("end_reason", "servicer"),
            ("end_reason", "ended_by_hand"),
            ("satisfaction", "surveyed"),
            ("satisfaction", "participation_rate"),
            ("hour", "00"),
        )
    } == {
        ("sessions", "started"): 6,  # numbers stay numbers
        ("sessions", "ai_only_rate"): 0.2,
        ("sessions", "transferred_between_servicers"): 1,
        ("sessions", "taken_unanswered"): 0,
        ("end_reason", "servicer"): 2,
        ("end_reason", "ended_by_hand"): 1,
        ("satisfaction", "surveyed"): 3,
        ("satisfaction", "participation_rate"): 1,
        ("hour", "00"): 2,
    }
    assert not [key for key in figures if key[0] == "day" or key[0].startswith("servicer:")]  # own sheets
    assert sheets["servicers"] == [
        [
            "userid",
            "received",
            "ended",
            "transferred_in",
            "transferred_out",
            "unanswered",
            "median_first_response_s",
            "rated",
            "average_rating",
            "over_cap",
        ],
        ["zhangsan", 2, 2, 1, 1, 1, 30, 2, 50, 1],
        ["lisi", 1, 1, 1, 1, 0, 10, 1, 60, 0],
    ]
    assert sheets["days"][0] == ["day", "sessions"]
    assert [(day.date().isoformat(), n) for day, n in sheets["days"][1:]] == [
        ("2026-11-20", 1),
        ("2026-11-21", 0),
        ("2026-11-22", 0),
        ("2026-11-23", 3),
        ("2026-11-24", 2),
        ("2026-11-25", 0),
    ]
    async with api_client(rt) as client:  # a figure of nothing is an empty cell
        empty = await client.get(
            "/api/v1/reports/export.xlsx", params={"from": "2026-01-01", "to": "2026-01-01"}
        )
    nothing = {(s, i): v for s, i, v in sheet_rows(empty.content)["summary"][1:]}
    assert nothing[("sessions", "ai_only_rate")] is None and nothing[("waiting", "median_s")] is None


async def test_a_servicer_id_that_reads_as_a_formula_stays_text(
    rt: Runtime, small_history: SmallHistory
) -> None:
    """A userid is WeCom's, a name an admin's: neither may run as a formula in Excel."""
    await add_servicer_session(rt, small_history, "=1+2")
    async with api_client(rt) as client:
        answer = await client.get("/api/v1/reports/export.xlsx", params=PERIOD)
    sheet = load_workbook(io.BytesIO(answer.content))["servicers"]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [cell.value for cell in cells if cell.data_type == "f"] == []
    assert "=1+2" in [cell.value for cell in cells]


async def test_a_servicer_id_holding_a_control_character_is_written_without_it(
    rt: Runtime, small_history: SmallHistory
) -> None:
    """Text stored before any check (here a userid with a BEL and an escape) made openpyxl refuse
    the row, and the whole workbook was a 500: the characters no worksheet holds are dropped."""
    await add_servicer_session(rt, small_history, "客服\x07一号\x1b")
    async with api_client(rt) as client:
        answer = await client.get("/api/v1/reports/export.xlsx", params=PERIOD)
    assert answer.status_code == 200, answer.text
    userids = [row[0] for row in sheet_rows(answer.content)["servicers"][1:]]
    assert "客服一号" in userids and "lisi" in userids
