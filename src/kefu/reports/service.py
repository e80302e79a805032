"""What the REST API and the console both call: the summary of a period, and its CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.clock import Clock
from kefu.reports.period import make_period, timezone_of
from kefu.reports.summary import Summary, build_summary


async def report(
    session: AsyncSession,
    *,
    first_day: date | None,
    last_day: date | None,
    account_id: int | None,
    clock: Clock,
) -> Summary:
    """The report over whole days in the account's time zone (all accounts: Kefu's default
    zone); by default the last 7 days, today included."""
    tz = await timezone_of(session, account_id)
    period = make_period(first_day, last_day, tz=tz, now=clock.now())
    return await build_summary(session, period, account_id)


Row = tuple[str, str, object]


def summary_csv(summary: Summary, label: tuple[str, Callable[[Row], str]] | None = None) -> str:
    """The summary as long rows `section,item,value` (one table, easy to pivot in a
    spreadsheet). A BOM first so Excel reads the UTF-8. `label`: a fourth column (its heading,
    and each row's words), for people: the console's download says what each row is in the
    viewer's language; the API's CSV stays three machine-readable columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    rows = summary_rows(summary)
    if label is None:
        writer.writerow(["section", "item", "value"])
        writer.writerows(rows)
    else:
        heading, words = label
        writer.writerow(["section", "item", "value", heading])
        writer.writerows([(*row, words(row)) for row in rows])
    return "\ufeff" + out.getvalue()


def summary_rows(summary: Summary) -> list[Row]:
    """Every figure as (section, item, value); an undefined value (a rate of nothing) is empty."""
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
        *(("transfer_reason", reason, count) for reason, count in summary.transfer_reasons.items()),
        ("waiting", "count", summary.waiting.count),
        ("waiting", "median_s", _blank(summary.waiting.median_s)),
        ("waiting", "p90_s", _blank(summary.waiting.p90_s)),
        ("waiting", "taken", summary.waited_taken),
        ("waiting", "abandoned", summary.waited_abandoned),
        *(("wait_bucket", label, count) for label, count in summary.wait_buckets.items()),
        ("first_response", "count", summary.first_response.count),
        ("first_response", "median_s", _blank(summary.first_response.median_s)),
        ("first_response", "p90_s", _blank(summary.first_response.p90_s)),
        ("satisfaction", "rated", summary.satisfaction.rated),
        ("satisfaction", "average", _blank(summary.satisfaction.average)),
        *(("rating_score", str(score), count) for score, count in summary.satisfaction.distribution.items()),
        *(("day", day.day, day.sessions) for day in summary.per_day),
        *(("hour", f"{hour:02d}", count) for hour, count in enumerate(summary.per_hour)),
    ]
    for load in summary.servicers:
        section = f"servicer:{load.userid}"
        rows += [
            (section, "received", load.received),
            (section, "ended", load.ended),
            (section, "median_first_response_s", _blank(load.median_first_response_s)),
            (section, "rated", load.rated),
            (section, "average_rating", _blank(load.average_rating)),
            (section, "over_cap", load.over_cap),
        ]
    return rows


def _blank(value: object) -> object:
    return "" if value is None else value
