"""The report over a period: every figure aggregated by the database from session_records (one
row per session, kept by kefu.reception.session_log), their servicers' parts and ratings
(kefu.reports.queries), assembled here once for the REST API, the console and the exports.

Per-day and per-hour counts are grouped by the UTC hour stored on the row, then placed in the
report's time zone here (at most 24 × days small rows)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.reports import queries
from kefu.reports.endings import END_REASONS
from kefu.reports.period import Period
from kefu.reports.queries import TRANSFERRED, WAIT_BUCKETS, S
from kefu.reports.schemas import DayCount, ServicerLoad, Spread, Summary

__all__ = ["WAIT_BUCKETS", "Summary", "build_summary"]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _by_count(counts: dict[str, int], order: tuple[str, ...] = ()) -> dict[str, int]:
    """Most first; ties in `order`, then by name."""
    rank = {key: index for index, key in enumerate(order)}
    return dict(sorted(counts.items(), key=lambda item: (-item[1], rank.get(item[0], len(rank)), item[0])))


async def build_summary(session: AsyncSession, period: Period, account_id: int | None = None) -> Summary:
    where = queries.in_period(period, account_id)
    counts = await queries.session_counts(session, where)
    reasons = await queries.grouped_counts(
        session, [*where, TRANSFERRED], func.coalesce(S.transfer_reason, "other")
    )
    ends = queries.end_reasons(counts)
    waiting = (await queries.spreads(session, [*where, S.queued_at.is_not(None)], S.wait_seconds)).get(0)
    first = (await queries.spreads(session, where, S.first_response_seconds)).get(0)
    first_by_servicer = await queries.spreads(session, where, S.first_response_seconds, S.servicer_userid)
    received, ended = await queries.first_and_last_servicers(session, where)
    parts = await queries.servicer_parts(session, where)
    satisfaction, rated_by_servicer = await queries.ratings(session, where, counts["surveyed"])
    per_hour_utc = await queries.grouped_counts(session, where, S.started_hour)
    over_cap = await queries.over_cap(session, period, account_id)

    servicers = []
    for userid in sorted(set(received) | set(ended) | set(parts) | set(rated_by_servicer) | set(over_cap)):
        spread = first_by_servicer.get(userid)
        rated, average = rated_by_servicer.get(userid, (0, None))
        transferred_in, transferred_out, unanswered = parts.get(userid, (0, 0, 0))
        servicers.append(
            ServicerLoad(
                userid=userid,
                received=received.get(userid, 0),
                ended=ended.get(userid, 0),
                median_first_response_s=spread.median_s if spread else None,
                rated=rated,
                average_rating=average,
                over_cap=over_cap.get(userid, 0),
                transferred_in=transferred_in,
                transferred_out=transferred_out,
                unanswered=unanswered,
            )
        )
    servicers.sort(key=lambda load: (-load.received, load.userid))

    per_day: Counter[str] = Counter()
    per_hour = [0] * 24
    for hour, count in per_hour_utc.items():  # ≤ 24 per day of the period, not per session
        local = datetime.fromtimestamp(hour * 3600, UTC).astimezone(period.tz)
        per_day[local.date().isoformat()] += count
        per_hour[local.hour] += count

    empty = Spread(count=0, median_s=None, p90_s=None)
    return Summary(
        first_day=period.first_day.isoformat(),
        last_day=period.last_day.isoformat(),
        timezone=period.tz.key,
        account_id=account_id,
        sessions_started=counts["started"],
        sessions_ended=counts["ended"],
        ai_only_resolved=counts["ai_only"],
        ai_only_rate=_rate(counts["ai_only"], counts["ended"]),
        asked_human_not_transferred=counts["asked_only"],
        transferred=counts["transferred"],
        transfer_rate=_rate(counts["transferred"], counts["started"]),
        transfer_reasons=_by_count(reasons),
        end_reasons=_by_count(ends, END_REASONS),
        transferred_between_servicers=counts["between_servicers"],
        taken_unanswered=counts["unanswered"],
        waiting=waiting or empty,
        waited_taken=counts["taken"],
        waited_abandoned=counts["abandoned"],
        wait_buckets={label: counts[f"b{index}"] for index, (_, label) in enumerate(WAIT_BUCKETS)},
        first_response=first or empty,
        satisfaction=satisfaction,
        servicers=servicers,
        per_day=[DayCount(day=day.isoformat(), sessions=per_day[day.isoformat()]) for day in period.days],
        per_hour=per_hour,
    )
