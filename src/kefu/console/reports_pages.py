"""报表: the reports page (admins, supervisors) — KPI cards, inline-SVG charts, the per-servicer
table and CSV and Excel downloads, over a date range and an account; the figures come from
kefu.reports, as /api/v1/reports does."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kefu.accounts.kf_accounts import list_all_accounts
from kefu.console.menu import MANAGERS
from kefu.console.report_charts import bar_chart
from kefu.console.report_words import named, report_words
from kefu.console.web import Viewer, refusal_words, render, role, runtime_of
from kefu.db.base import row_id_of
from kefu.errors import DomainError
from kefu.reports.export import XLSX, attachment, summary_csv, summary_xlsx
from kefu.reports.service import report
from kefu.reports.summary import Summary

router = APIRouter(include_in_schema=False)
Manager = Annotated[Viewer, Depends(role(*MANAGERS))]


def _day(text: str | None, field: str, errors: dict[str, str], viewer: Viewer) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = viewer.t("reports.bad_date")
        return None


def _account(text: str | None, errors: dict[str, str], viewer: Viewer) -> int | None:
    if not text:
        return None
    account_id = row_id_of(text)
    if account_id is None:
        errors["account_id"] = viewer.t("reports.bad_account")
    return account_id


async def _summary(request: Request, viewer: Viewer) -> tuple[Summary | None, dict[str, str], dict[str, str]]:
    """The report the query string asks for, or the errors to show next to its fields (and no report)."""
    params = request.query_params
    values = {key: params.get(key, "").strip() for key in ("from", "to", "account_id")}
    errors: dict[str, str] = {}
    first = _day(values["from"], "from", errors, viewer)
    last = _day(values["to"], "to", errors, viewer)
    account_id = _account(values["account_id"], errors, viewer)
    if errors:
        return None, values, errors
    rt = runtime_of(request)
    try:
        async with rt.db.read() as session:
            summary = await report(
                session, first_day=first, last_day=last, account_id=account_id, clock=rt.clock
            )
    except DomainError as exc:
        field = "account_id" if exc.status_code == 404 else "from"
        return None, values, {field: refusal_words(viewer, "reports", exc)}
    return summary, values, errors


def _named(counts: dict[str, int], scope: str, viewer: Viewer) -> list[tuple[str, int]]:
    """Transfer or end reasons in the viewer's words; a reason without words shows as recorded."""
    return [(named(viewer.t, f"reports.{scope}.{reason}", reason), n) for reason, n in counts.items()]


def _query(summary: Summary) -> str:
    account = f"&account_id={summary.account_id}" if summary.account_id is not None else ""
    return f"from={summary.first_day}&to={summary.last_day}{account}"


@router.get("/console/reports")
async def reports_page(request: Request, viewer: Manager) -> Response:
    summary, values, errors = await _summary(request, viewer)
    async with runtime_of(request).db.read() as session:
        accounts = await list_all_accounts(session)
    charts = []
    if summary is not None:
        values = {"from": summary.first_day, "to": summary.last_day, "account_id": values["account_id"]}
        charts = [
            bar_chart(viewer.t("reports.chart_per_day"), [(d.day[5:], d.sessions) for d in summary.per_day]),
            bar_chart(viewer.t("reports.chart_wait"), list(summary.wait_buckets.items())),
            bar_chart(
                viewer.t("reports.chart_per_hour"), [(f"{h:02d}", n) for h, n in enumerate(summary.per_hour)]
            ),
        ]
    return render(
        request,
        "reports.html",
        422 if errors else 200,
        summary=summary,
        values=values,
        errors=errors,
        accounts=accounts,
        charts=charts,
        reasons=_named(summary.transfer_reasons, "reason", viewer) if summary else [],
        ends=_named(summary.end_reasons, "end", viewer) if summary else [],
        # Each score by the words the customer tapped (评价选项), of this report's ratings:
        # 不满意（0 分）rather than a bare 0, and never another account's words.
        score_labels=summary.satisfaction.labels if summary else {},
        query=_query(summary) if summary else "",
    )


@router.get("/console/reports/export.csv")
async def reports_csv(request: Request, viewer: Manager) -> Response:
    summary, _, errors = await _summary(request, viewer)
    if summary is None:
        return _refused(errors)
    return Response(
        summary_csv(summary, report_words(viewer.t, summary)),
        media_type="text/csv; charset=utf-8",
        headers=attachment(summary, "csv"),
    )


@router.get("/console/reports/export.xlsx")
async def reports_xlsx(request: Request, viewer: Manager) -> Response:
    summary, _, errors = await _summary(request, viewer)
    if summary is None:
        return _refused(errors)
    workbook = summary_xlsx(summary, report_words(viewer.t, summary))
    return Response(workbook, media_type=XLSX, headers=attachment(summary, "xlsx"))


def _refused(errors: dict[str, str]) -> Response:
    return Response("; ".join(errors.values()), status_code=422, media_type="text/plain; charset=utf-8")
