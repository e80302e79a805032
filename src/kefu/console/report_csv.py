"""The console's 下载 CSV: the report's rows (kefu.reports.service.summary_rows) with a fourth
column saying, in the viewer's language, what each row is — a supervisor opening it in Excel
reads 转人工率 beside `sessions,transfer_rate` (the BOM makes Excel read the Chinese). The
REST API's CSV keeps its three machine-readable columns."""

from __future__ import annotations

from collections.abc import Callable

from kefu.reports.service import Row
from kefu.reports.summary import Summary

# (section, item) → the words of the page, or the CSV's own where the page says it differently.
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
}
SERVICER_ITEMS = {
    "received": "reports.received",
    "ended": "reports.ended",
    "median_first_response_s": "reports.csv.first_response_median_s",
    "rated": "reports.rated_count",
    "average_rating": "reports.average_rating",
    "over_cap": "reports.over_cap",
}


def csv_labels(t: Callable[..., str], summary: Summary) -> tuple[str, Callable[[Row], str]]:
    """The fourth column's heading, and each row's words."""

    def of(group: str, item: str) -> str:
        return t("reports.csv.of", group=group, item=item)

    def words(row: Row) -> str:
        section, item, _ = row
        if (section, item) in ITEMS:
            return t(ITEMS[(section, item)])
        if section == "transfer_reason":
            named = t(f"reports.reason.{item}")
            return of(t("reports.transfer_reasons"), item if named == f"reports.reason.{item}" else named)
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

    return t("reports.csv.label"), words
