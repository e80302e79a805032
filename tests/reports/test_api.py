"""/api/v1/reports over HTTP: the JSON summary, the CSV, a token required, bad input refused."""

from __future__ import annotations

import httpx

from kefu.app import create_app
from kefu.runtime import Runtime
from tests.factories import api_client
from tests.reports.conftest import SmallHistory

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
        for path in ("/api/v1/reports/summary", "/api/v1/reports/export.csv"):
            assert (await anonymous.get(path)).status_code == 401
    async with api_client(rt) as client:
        backwards = await client.get(
            "/api/v1/reports/summary", params={"from": "2026-11-25", "to": "2026-11-20"}
        )
        assert backwards.status_code == 422 and "from must not be after to" in backwards.text
        assert (await client.get("/api/v1/reports/summary", params={"from": "yesterday"})).status_code == 422
        assert (await client.get("/api/v1/reports/summary", params={"account_id": 999})).status_code == 404
        assert (await client.get("/api/v1/reports/export.csv", params={"account_id": 0})).status_code == 422
