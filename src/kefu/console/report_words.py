"""What the console's downloads say for people (kefu.reports.export.Words): the CSV's fourth
column and the XLSX's label column, headings and sheet names, in the viewer's language — a
supervisor opening the file in Excel reads 转人工率 beside `sessions,transfer_rate`. The REST
API's files keep the machine-readable keys only."""

from __future__ import annotations

from collections.abc import Callable

from kefu.reports.export import Row, Words
from kefu.reports.summary import Summary

# (section, item) → the words of the page, or the files' own where the page says it differently.
ITEMS = {
    ("period", "from"): "reports.from",
    ("period", "to"): "reports.to",
    ("period", "timezone"): "reports.csv.timezone",
    ("period", "account_id"): "reports.account",
    ("sessions", "started"): "reports.sessions_started",
    ("sessions", "ended"): "reports.csv.ended",
    ("sessions", "ai_only_resolved"): "reports.csv.ai_only_resolved",
    ("sessions", "ai_only_rate"): "reports.ai_only_rate",
    ("sessions", "transferred"): "reports.csv.transferred",
    ("sessions", "transfer_rate"): "reports.transfer_rate",
    ("sessions", "asked_human_not_transferred"): "reports.csv.asked_not_transferred",
    ("sessions", "transferred_between_servicers"): "reports.csv.between_servicers",
    ("sessions", "taken_unanswered"): "reports.csv.taken_unanswered",
    ("waiting", "count"): "reports.csv.waits",
    ("waiting", "median_s"): "reports.csv.wait_median_s",
    ("waiting", "p90_s"): "reports.csv.wait_p90_s",
    ("waiting", "taken"): "reports.csv.waited_taken",
    ("waiting", "abandoned"): "reports.csv.waited_abandoned",
    ("first_response", "count"): "reports.csv.first_responses",
    ("first_response", "median_s"): "reports.csv.first_response_median_s",
    ("first_response", "p90_s"): "reports.csv.first_response_p90_s",
    ("satisfaction", "rated"): "reports.rated_count",
    ("satisfaction", "average"): "reports.satisfaction",
    ("satisfaction", "surveyed"): "reports.csv.surveyed",
    ("satisfaction", "participation_rate"): "reports.participation_rate",
}
# A servicer's figures (kefu.reports.export.SERVICER_FIELDS) as the servicer table heads them.
SERVICER_ITEMS = {
    "userid": "reports.servicer",
    "received": "reports.received",
    "ended": "reports.ended",
    "transferred_in": "reports.transferred_in",
    "transferred_out": "reports.transferred_out",
    "unanswered": "reports.unanswered",
    "median_first_response_s": "reports.csv.first_response_median_s",
    "rated": "reports.rated_count",
    "average_rating": "reports.average_rating",
    "over_cap": "reports.over_cap",
}
COLUMNS = {**SERVICER_ITEMS, "day": "reports.csv.day", "sessions": "reports.sessions_started"}
SHEETS = {
    "summary": "reports.xlsx.summary",
    "servicers": "reports.servicers",
    "days": "reports.chart_per_day",
}


def named(t: Callable[..., str], key: str, fallback: str) -> str:
    """The words of `key`, or `fallback` (a value recorded that has no words yet)."""
    words = t(key)
    return fallback if words == key else words


def report_words(t: Callable[..., str], summary: Summary) -> Words:
    def of(group: str, item: str) -> str:
        return t("reports.csv.of", group=group, item=item)

    def row(found: Row) -> str:
        section, item, _ = found
        if (section, item) in ITEMS:
            return t(ITEMS[(section, item)])
        if section == "transfer_reason":
            return of(t("reports.transfer_reasons"), named(t, f"reports.reason.{item}", item))
        if section == "end_reason":
            return of(t("reports.end_reasons"), named(t, f"reports.end.{item}", item))
        if section == "wait_bucket":
            return of(t("reports.chart_wait"), item)
        if section == "rating_score":
            label = summary.satisfaction.labels.get(int(item))
            score = t("reports.csv.score", label=label, score=item) if label else item
            return of(t("reports.rated_count"), score)
        if section == "day":
            return of(t("reports.chart_per_day"), item)
        if section == "hour":
            return of(t("reports.chart_per_hour"), f"{item}:00")
        if section.startswith("servicer:") and item in SERVICER_ITEMS:
            return of(section.removeprefix("servicer:"), t(SERVICER_ITEMS[item]))
        return ""

    return Words(
        heading=t("reports.csv.label"),
        row=row,
        column=lambda key: t(COLUMNS[key]),
        sheet=lambda key: t(SHEETS[key]),
    )
