"""The report over a period: every figure aggregated by the database from session_records
(one row per session, kept by kefu.reception.session_log) and ratings.

Each query reads only the period's rows through the (account_id, started_at) or (started_at)
index and returns a handful of numbers; percentiles use window functions (SQLite ≥ 3.25 and
PostgreSQL alike), and per-day/per-hour counts are grouped by the UTC hour stored on the row,
then placed in the report's time zone here (at most 24 × days small rows)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.reception.models import Rating, SessionRecord
from kefu.reports.period import Period
from kefu.routing.models import RoutingDecisionRow

S = SessionRecord
# Waiting-time chart buckets: upper bound in seconds (exclusive), label; the last is open.
WAIT_BUCKETS = ((30, "<30s"), (60, "30s-1m"), (120, "1-2m"), (300, "2-5m"), (600, "5-10m"), (None, ">=10m"))
PERCENTILES = (50, 90)


class Spread(BaseModel):
    count: int
    median_s: int | None
    p90_s: int | None


class Satisfaction(BaseModel):
    rated: int
    average: float | None
    distribution: dict[int, int]  # score → ratings
    # score → the words customers tapped for it in these ratings (the survey option's label); two
    # accounts' words for one score are joined with "/"
    labels: dict[int, str]


class ServicerLoad(BaseModel):
    userid: str
    received: int
    ended: int
    median_first_response_s: int | None
    rated: int
    average_rating: float | None
    # sessions taken or given in the WeCom app, or taken by hand in the console, past their cap
    # (product §2: flagged)
    over_cap: int


class DayCount(BaseModel):
    day: str  # YYYY-MM-DD in the report's time zone
    sessions: int


class Summary(BaseModel):
    first_day: str
    last_day: str
    timezone: str
    account_id: int | None
    sessions_started: int
    sessions_ended: int
    ai_only_resolved: int
    ai_only_rate: float | None  # of ended sessions
    # Ended without a transfer although the customer asked for a human (off hours, the queue
    # full, a transfer that failed): neither AI-only resolved nor transferred.
    asked_human_not_transferred: int
    transferred: int
    transfer_rate: float | None  # of started sessions
    transfer_reasons: dict[str, int]
    waiting: Spread  # seconds in the pool, over sessions that left it (taken or not)
    waited_taken: int
    waited_abandoned: int
    wait_buckets: dict[str, int]
    first_response: Spread
    satisfaction: Satisfaction
    servicers: list[ServicerLoad]
    per_day: list[DayCount]
    per_hour: list[int]  # 24 counts, hour of day in the report's time zone


def _in_period(period: Period, account_id: int | None) -> list[ColumnElement[bool]]:
    where = [S.started_at >= period.start, S.started_at < period.end, S.kind == "normal"]
    if account_id is not None:
        where.append(S.account_id == account_id)
    return where


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


TRANSFERRED = or_(S.queued_at.is_not(None), S.assigned_at.is_not(None))
# A supervisor reads "AI-only resolved" as the AI's containment: a customer who asked for a
# human and got none (off hours, say) was not resolved by the AI (anchors.md (d) 9: containment
# vs handoff; Intercom and Chatwoot count a handoff request as not resolved by the bot).
ASKED_HUMAN = S.transfer_reason.is_not(None)


async def _spreads(
    session: AsyncSession, where: list[ColumnElement[bool]], value: Any, group: Any | None = None
) -> dict[Any, Spread]:
    """Median and p90 (nearest rank: the value at rank ⌈q·n⌉) of `value` per `group` (no group:
    the key 0), in one query: each row numbered within its group, only the ranks wanted return."""
    partition = [group] if group is not None else []
    key = group if group is not None else literal(0)
    ranked = (
        select(
            key.label("grp"),
            value.label("v"),
            func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*where, value.is_not(None))
        .subquery()
    )
    ranks = [(ranked.c.n * q + 99) // 100 for q in PERCENTILES]
    query = select(ranked.c.grp, ranked.c.n, ranked.c.rn, ranked.c.v, *ranks).where(
        or_(*(ranked.c.rn == rank for rank in ranks))
    )
    found: dict[Any, dict[str, Any]] = {}
    for grp, n, rn, v, rank50, rank90 in (await session.execute(query)).all():
        entry = found.setdefault(grp, {"count": n, "median_s": None, "p90_s": None})
        if rn == rank50:
            entry["median_s"] = v
        if rn == rank90:
            entry["p90_s"] = v
    return {grp: Spread(**entry) for grp, entry in found.items()}


async def _sessions(session: AsyncSession, where: list[ColumnElement[bool]]) -> dict[str, int]:
    ended = S.ended_at.is_not(None)
    query = select(
        func.count().label("started"),
        _count_if(ended).label("ended"),
        _count_if(and_(ended, ~TRANSFERRED, ~ASKED_HUMAN)).label("ai_only"),
        _count_if(and_(ended, ~TRANSFERRED, ASKED_HUMAN)).label("asked_only"),
        _count_if(TRANSFERRED).label("transferred"),
        _count_if(and_(S.wait_seconds.is_not(None), S.taken)).label("taken"),
        _count_if(and_(S.wait_seconds.is_not(None), ~S.taken)).label("abandoned"),
        *(
            _count_if(and_(S.wait_seconds.is_not(None), *_bucket(index))).label(f"b{index}")
            for index in range(len(WAIT_BUCKETS))
        ),
    ).where(*where)
    return {key: int(value or 0) for key, value in (await session.execute(query)).one()._mapping.items()}


def _bucket(index: int) -> list[ColumnElement[bool]]:
    low = WAIT_BUCKETS[index - 1][0] if index else None
    high = WAIT_BUCKETS[index][0]
    bounds = []
    if low is not None:
        bounds.append(S.wait_seconds >= low)
    if high is not None:
        bounds.append(S.wait_seconds < high)
    return bounds


async def _grouped_counts(
    session: AsyncSession, where: list[ColumnElement[bool]], column: Any
) -> dict[Any, int]:
    query = select(column, func.count()).where(*where, column.is_not(None)).group_by(column)
    return {key: count for key, count in (await session.execute(query)).all()}


async def _ratings(
    session: AsyncSession, where: list[ColumnElement[bool]]
) -> tuple[Satisfaction, dict[str, tuple[int, float]]]:
    """Ratings of the period's sessions: the distribution and the words of each score, and
    count/average per rated servicer, from one grouped query (a few rows: scores × servicers)."""
    query = (
        select(Rating.score, Rating.servicer_userid, Rating.label, func.count())
        .join(S, and_(S.conversation_id == Rating.conversation_id, S.session_no == Rating.session_no))
        .where(*where)
        .group_by(Rating.score, Rating.servicer_userid, Rating.label)
    )
    distribution: Counter[int] = Counter()
    words: dict[int, set[str]] = {}
    per_servicer: dict[str, list[int]] = {}  # userid → [ratings, sum of scores]
    for score, userid, label, count in (await session.execute(query)).all():
        distribution[int(score)] += count
        if label:
            words.setdefault(int(score), set()).add(label)
        if userid is not None:
            totals = per_servicer.setdefault(userid, [0, 0])
            totals[0] += count
            totals[1] += int(score) * count
    servicers = {userid: (n, round(total / n, 2)) for userid, (n, total) in per_servicer.items()}
    rated = sum(distribution.values())
    average = round(sum(score * n for score, n in distribution.items()) / rated, 2) if rated else None
    labels = {score: "/".join(sorted(found)) for score, found in sorted(words.items())}
    return Satisfaction(
        rated=rated, average=average, distribution=dict(sorted(distribution.items())), labels=labels
    ), servicers


async def _servicer_counts(
    session: AsyncSession, where: list[ColumnElement[bool]]
) -> tuple[Counter[str], Counter[str]]:
    """Sessions each servicer received (was first to get) and ended, from one grouped query."""
    query = (
        select(S.servicer_userid, S.ended_servicer_userid, func.count())
        .where(*where, or_(S.servicer_userid.is_not(None), S.ended_servicer_userid.is_not(None)))
        .group_by(S.servicer_userid, S.ended_servicer_userid)
    )
    received: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    for first, last, count in (await session.execute(query)).all():
        if first is not None:
            received[first] += count
        if last is not None:
            ended[last] += count
    return received, ended


async def _over_cap(session: AsyncSession, period: Period, account_id: int | None) -> dict[str, int]:
    """Per servicer: WeCom-app takes and moves, and takes by hand, in the period that put them
    past their cap."""
    row = RoutingDecisionRow
    where = [row.over_cap.is_(True), row.decided_at >= period.start, row.decided_at < period.end]
    if account_id is not None:
        where.append(row.account_id == account_id)
    return await _grouped_counts(session, where, row.servicer_userid)


async def build_summary(session: AsyncSession, period: Period, account_id: int | None = None) -> Summary:
    where = _in_period(period, account_id)
    counts = await _sessions(session, where)
    reasons = await _grouped_counts(session, [*where, TRANSFERRED], func.coalesce(S.transfer_reason, "other"))
    waiting = (await _spreads(session, [*where, S.queued_at.is_not(None)], S.wait_seconds)).get(0)
    first = (await _spreads(session, where, S.first_response_seconds)).get(0)
    first_by_servicer = await _spreads(session, where, S.first_response_seconds, S.servicer_userid)
    received, ended = await _servicer_counts(session, where)
    satisfaction, rated_by_servicer = await _ratings(session, where)
    per_hour_utc = await _grouped_counts(session, where, S.started_hour)
    over_cap = await _over_cap(session, period, account_id)

    servicers = []
    for userid in sorted(set(received) | set(ended) | set(rated_by_servicer) | set(over_cap)):
        spread = first_by_servicer.get(userid)
        rated, average = rated_by_servicer.get(userid, (0, None))
        servicers.append(
            ServicerLoad(
                userid=userid,
                received=received.get(userid, 0),
                ended=ended.get(userid, 0),
                median_first_response_s=spread.median_s if spread else None,
                rated=rated,
                average_rating=average,
                over_cap=over_cap.get(userid, 0),
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
        transfer_reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
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
