"""REST: /api/v1/reports — the summary of a period as JSON, as CSV and as an XLSX workbook."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from kefu.api.auth import require_token
from kefu.api.deps import IdQuery, RuntimeDep
from kefu.api.routes import ApiRoute
from kefu.reports.export import XLSX, attachment, summary_csv, summary_xlsx
from kefu.reports.service import report
from kefu.reports.summary import Summary

router = APIRouter(
    prefix="/reports", tags=["reports"], route_class=ApiRoute, dependencies=[Depends(require_token)]
)
# `from` is a Python keyword: the parameters are named by alias.
FromDay = Annotated[
    date | None, Query(alias="from", description="first day (YYYY-MM-DD), the account's time zone")
]
ToDay = Annotated[date | None, Query(alias="to", description="last day, included; default: today")]


@router.get("/summary", response_model=Summary)
async def get_summary(
    rt: RuntimeDep, first: FromDay = None, last: ToDay = None, account_id: IdQuery = None
) -> Summary:
    """Sessions, AI-only resolution, transfers and their reasons, requests for a human that no
    transfer followed, how sessions ended, moves between servicers and sessions no servicer
    answered, waiting and first-response times (median, p90), satisfaction and its participation
    rate, per-servicer load, sessions per day and hour. Default period: the last 7 days."""
    async with rt.db.read() as session:
        return await report(session, first_day=first, last_day=last, account_id=account_id, clock=rt.clock)


@router.get("/export.csv", response_class=Response)
async def export_csv(
    rt: RuntimeDep, first: FromDay = None, last: ToDay = None, account_id: IdQuery = None
) -> Response:
    """The same summary as CSV rows `section,item,value`."""
    async with rt.db.read() as session:
        summary = await report(session, first_day=first, last_day=last, account_id=account_id, clock=rt.clock)
    return Response(
        summary_csv(summary), media_type="text/csv; charset=utf-8", headers=attachment(summary, "csv")
    )


@router.get("/export.xlsx", response_class=Response)
async def export_xlsx(
    rt: RuntimeDep, first: FromDay = None, last: ToDay = None, account_id: IdQuery = None
) -> Response:
    """The same summary as an XLSX workbook: sheets `summary` (the CSV's rows), `servicers` (one
    row per servicer) and `days` (sessions per day)."""
    async with rt.db.read() as session:
        summary = await report(session, first_day=first, last_day=last, account_id=account_id, clock=rt.clock)
    return Response(summary_xlsx(summary), media_type=XLSX, headers=attachment(summary, "xlsx"))
