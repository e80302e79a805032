"""The summary as files: CSV (long rows `section,item,value`, one table easy to pivot) and XLSX
(the same rows on a summary sheet, a table per servicer and per day), for the REST API, the
console's downloads and `kefu report`. `Words`, when given, adds what people read beside the
machine-readable keys (the console: in the viewer's language)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook

from kefu.reports.schemas import ServicerLoad, Summary
from kefu.spreadsheet import csv_cell, xlsx_append

Row = tuple[str, str, object]
# A servicer's figures: their CSV items and the columns of the XLSX servicers sheet.
SERVICER_FIELDS = (
    "received",
    "ended",
    "transferred_in",
    "transferred_out",
    "unanswered",
    "median_first_response_s",
    "rated",
    "average_rating",
    "over_cap",
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"  # its media type
SERVICER_SECTION = "servicer:"
DAY_SECTION = "day"


@dataclass(frozen=True)
class Words:
    """What a file says for people: the heading of the label column and each row's label, a
    table's column headings and the sheets' names (by their keys)."""

    heading: str
    row: Callable[[Row], str]
    column: Callable[[str], str]
    sheet: Callable[[str], str]


def attachment(summary: Summary, suffix: str) -> dict[str, str]:
    """A download's headers: the file kefu-report-<from>-<to>.<suffix>."""
    name = f"kefu-report-{summary.first_day}-{summary.last_day}.{suffix}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def summary_rows(summary: Summary) -> list[Row]:
    """Every figure as (section, item, value); an undefined value (a rate of nothing) is empty."""
    rated = summary.satisfaction
    rows: list[Row] = [
        ("period", "from", summary.first_day),
        ("period", "to", summary.last_day),
        ("period", "timezone", summary.timezone),
        ("period", "account_id", summary.account_id if summary.account_id is not None else "all"),
        ("sessions", "started", summary.sessions_started),
        ("sessions", "ended", summary.sessions_ended),
        ("sessions", "ai_only_resolved", summary.ai_only_resolved),
        ("sessions", "ai_only_rate", _blank(summary.ai_only_rate)),
        ("sessions", "transferred", summary.transferred),
        ("sessions", "transfer_rate", _blank(summary.transfer_rate)),
        ("sessions", "asked_human_not_transferred", summary.asked_human_not_transferred),
        ("sessions", "transferred_between_servicers", summary.transferred_between_servicers),
        ("sessions", "taken_unanswered", summary.taken_unanswered),
        *(("transfer_reason", reason, count) for reason, count in summary.transfer_reasons.items()),
        *(("end_reason", reason, count) for reason, count in summary.end_reasons.items()),
        ("waiting", "count", summary.waiting.count),
        ("waiting", "median_s", _blank(summary.waiting.median_s)),
        ("waiting", "p90_s", _blank(summary.waiting.p90_s)),
        ("waiting", "taken", summary.waited_taken),
        ("waiting", "abandoned", summary.waited_abandoned),
        *(("wait_bucket", label, count) for label, count in summary.wait_buckets.items()),
        ("first_response", "count", summary.first_response.count),
        ("first_response", "median_s", _blank(summary.first_response.median_s)),
        ("first_response", "p90_s", _blank(summary.first_response.p90_s)),
        ("satisfaction", "rated", rated.rated),
        ("satisfaction", "average", _blank(rated.average)),
        ("satisfaction", "surveyed", rated.surveyed),
        ("satisfaction", "participation_rate", _blank(rated.participation_rate)),
        *(("rating_score", str(score), count) for score, count in rated.distribution.items()),
        *((DAY_SECTION, day.day, day.sessions) for day in summary.per_day),
        *(("hour", f"{hour:02d}", count) for hour, count in enumerate(summary.per_hour)),
    ]
    for load in summary.servicers:
        section = SERVICER_SECTION + load.userid
        rows += [(section, field, _blank(_of(load, field))) for field in SERVICER_FIELDS]
    return rows


def _of(load: ServicerLoad, field: str) -> Any:
    return getattr(load, field)


def _blank(value: object) -> object:
    return "" if value is None else value


def summary_csv(summary: Summary, words: Words | None = None) -> str:
    """The summary as long rows `section,item,value`. A BOM first so Excel reads the UTF-8. With
    `words`, a fourth column says what each row is (the console's download); the API's CSV stays
    three machine-readable columns. Text a spreadsheet would take for a formula is guarded."""
    out = io.StringIO()
    writer = csv.writer(out)
    rows = summary_rows(summary)
    if words is None:
        table: Iterable[tuple[object, ...]] = [("section", "item", "value"), *rows]
    else:
        table = [("section", "item", "value", words.heading), *((*row, words.row(row)) for row in rows)]
    writer.writerows([csv_cell(cell) for cell in row] for row in table)
    return "\ufeff" + out.getvalue()


def summary_xlsx(summary: Summary, words: Words | None = None) -> bytes:
    """The summary as a workbook: sheet `summary` (the CSV's rows but the servicers' and days'),
    `servicers` (one row per servicer, a column per figure) and `days` (sessions per day). With
    `words`, the label column, the tables' headings and the sheets' names for people."""
    workbook = Workbook()
    rows = summary_rows(summary)
    summary_sheet = workbook.active
    summary_sheet.title = words.sheet("summary") if words else "summary"
    heading: list[object] = ["section", "item", "value"]
    kept = [row for row in rows if row[0] != DAY_SECTION and not row[0].startswith(SERVICER_SECTION)]
    xlsx_append(summary_sheet, [*heading, words.heading] if words else heading)
    for row in kept:
        xlsx_append(summary_sheet, [*row[:2], _cell(row[2]), *([words.row(row)] if words else [])])

    servicers = workbook.create_sheet(words.sheet("servicers") if words else "servicers")
    columns = ["userid", *SERVICER_FIELDS]
    xlsx_append(servicers, [words.column(key) for key in columns] if words else columns)
    for load in summary.servicers:
        xlsx_append(servicers, [_of(load, key) for key in columns])

    days = workbook.create_sheet(words.sheet("days") if words else "days")
    xlsx_append(days, [words.column(key) for key in ("day", "sessions")] if words else ["day", "sessions"])
    for day in summary.per_day:
        xlsx_append(days, [date.fromisoformat(day.day), day.sessions])
    for cell in days["A"][1:]:
        cell.number_format = "yyyy-mm-dd"

    for sheet in workbook.worksheets:
        sheet.freeze_panes = "A2"  # the headings stay in view
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(value: object) -> object:
    return None if value == "" else value  # an undefined figure: an empty cell
