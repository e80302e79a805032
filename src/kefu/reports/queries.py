"""The aggregate queries of a report (kefu.reports.summary assembles them): each reads only the
period's session_records through the (account_id, started_at) or (started_at) index — joined to
its ratings or servicers' parts by (conversation, session_no) — and returns a handful of numbers
or small grouped rows. Percentiles use window functions (SQLite ≥ 3.25 and PostgreSQL alike)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.reception.models import Rating, SessionRecord, SessionServicer
from kefu.reports.endings import ended_by
from kefu.reports.period import Period
from kefu.reports.schemas import Satisfaction, Spread
from kefu.routing.models import RoutingDecisionRow

S = SessionRecord
# Waiting-time chart buckets: upper bound in seconds (exclusive), label; the last is open.
WAIT_BUCKETS = ((30, "<30s"), (60, "30s-1m"), (120, "1-2m"), (300, "2-5m"), (600, "5-10m"), (None, ">=10m"))
PERCENTILES = (50, 90)

TRANSFERRED = or_(S.queued_at.is_not(None), S.assigned_at.is_not(None))
# A supervisor reads "AI-only resolved" as the AI's containment: a customer who asked for a
# human and got none (off hours, say) was not resolved by the AI (anchors.md (d) 9: containment
# vs handoff; Intercom and Chatwoot count a handoff request as not resolved by the bot).
ASKED_HUMAN = S.transfer_reason.is_not(None)
ENDED = S.ended_at.is_not(None)
ENDED_BY = ended_by(S.end_reason, S.end_requested)
# 接入未回复: it reached a servicer and ended without a servicer's word.
UNANSWERED = and_(ENDED, S.assigned_at.is_not(None), S.first_response_seconds.is_(None))


def in_period(period: Period, account_id: int | None) -> list[ColumnElement[bool]]:
    where = [S.started_at >= period.start, S.started_at < period.end, S.kind == "normal"]
    if account_id is not None:
        where.append(S.account_id == account_id)
    return where


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def spreads(
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


async def session_counts(session: AsyncSession, where: list[ColumnElement[bool]]) -> dict[str, int]:
    """Every count over the period's sessions, in one pass."""
    waited = S.wait_seconds.is_not(None)
    query = select(
        func.count().label("started"),
        _count_if(ENDED).label("ended"),
        _count_if(and_(ENDED, ~TRANSFERRED, ~ASKED_HUMAN)).label("ai_only"),
        _count_if(and_(ENDED, ~TRANSFERRED, ASKED_HUMAN)).label("asked_only"),
        _count_if(TRANSFERRED).label("transferred"),
        _count_if(S.servicer_transfers > 0).label("between_servicers"),
        _count_if(UNANSWERED).label("unanswered"),
        _count_if(S.survey_sent.is_(True)).label("surveyed"),
        *(_count_if(and_(ENDED, how)).label(f"end:{name}") for name, how in ENDED_BY.items()),
        _count_if(and_(waited, S.taken)).label("taken"),
        _count_if(and_(waited, ~S.taken)).label("abandoned"),
        *(_count_if(and_(waited, *_bucket(index))).label(f"b{index}") for index in range(len(WAIT_BUCKETS))),
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


async def grouped_counts(
    session: AsyncSession, where: list[ColumnElement[bool]], column: Any
) -> dict[Any, int]:
    query = select(column, func.count()).where(*where, column.is_not(None)).group_by(column)
    return {key: count for key, count in (await session.execute(query)).all()}


def end_reasons(counts: dict[str, int]) -> dict[str, int]:
    """Ended sessions by how they ended (kefu.reports.endings), from `session_counts`: the names
    that occur; what no name holds is `other`."""
    ends = {name: counts[f"end:{name}"] for name in ENDED_BY}
    ends["other"] = counts["ended"] - sum(ends.values())
    return {name: n for name, n in ends.items() if n}


async def ratings(
    session: AsyncSession, where: list[ColumnElement[bool]], surveyed: int
) -> tuple[Satisfaction, dict[str, tuple[int, float]]]:
    """Ratings of the period's sessions: the distribution and the words of each score, the share
    of `surveyed` sessions rated, and count/average per rated servicer, from one grouped query
    (a few rows: scores × servicers)."""
    query = (
        select(Rating.score, Rating.servicer_userid, Rating.label, S.survey_sent, func.count())
        .join(S, and_(S.conversation_id == Rating.conversation_id, S.session_no == Rating.session_no))
        .where(*where)
        .group_by(Rating.score, Rating.servicer_userid, Rating.label, S.survey_sent)
    )
    distribution: Counter[int] = Counter()
    words: dict[int, set[str]] = {}
    per_servicer: dict[str, list[int]] = {}  # userid → [ratings, sum of scores]
    rated_surveyed = 0  # a rating whose survey was not recorded as sent (before 0018) is left out
    for score, userid, label, survey_sent, count in (await session.execute(query)).all():
        distribution[int(score)] += count
        rated_surveyed += count if survey_sent else 0
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
    satisfaction = Satisfaction(
        rated=rated,
        average=average,
        distribution=dict(sorted(distribution.items())),
        labels=labels,
        surveyed=surveyed,
        participation_rate=round(rated_surveyed / surveyed, 4) if surveyed else None,
    )
    return satisfaction, servicers


async def first_and_last_servicers(
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


async def servicer_parts(
    session: AsyncSession, where: list[ColumnElement[bool]]
) -> dict[str, tuple[int, int, int]]:
    """Per servicer, over the sessions they held: (got from a colleague, passed to one, ended
    without their word), one grouped query."""
    part = SessionServicer
    query = (
        select(
            part.servicer_userid,
            _count_if(part.transferred_in.is_(True)),
            _count_if(part.transferred_out.is_(True)),
            _count_if(and_(ENDED, part.replied_at.is_(None))),
        )
        .join(S, and_(S.conversation_id == part.conversation_id, S.session_no == part.session_no))
        .where(*where, S.assigned_at.is_not(None))  # only sessions a servicer had have parts
        .group_by(part.servicer_userid)
    )
    return {userid: (int(i), int(o), int(u)) for userid, i, o, u in (await session.execute(query)).all()}


async def over_cap(session: AsyncSession, period: Period, account_id: int | None) -> dict[str, int]:
    """Per servicer: WeCom-app takes and moves, and takes by hand, in the period that put them
    past their cap."""
    row = RoutingDecisionRow
    where = [row.over_cap.is_(True), row.decided_at >= period.start, row.decided_at < period.end]
    if account_id is not None:
        where.append(row.account_id == account_id)
    return await grouped_counts(session, where, row.servicer_userid)
