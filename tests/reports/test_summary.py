"""Every figure of the report against the small history, computed by hand (tests/reports/conftest.py)."""

from __future__ import annotations

from datetime import date

import pytest

from kefu.errors import Invalid, NotFound
from kefu.reports.service import report
from kefu.reports.summary import Summary
from kefu.runtime import Runtime
from tests.reports.conftest import SmallHistory

PERIOD = {"first_day": date(2026, 11, 20), "last_day": date(2026, 11, 25)}


async def summary_of(rt: Runtime, account_id: int | None, **period: date | None) -> Summary:
    async with rt.db.read() as session:
        return await report(session, account_id=account_id, clock=rt.clock, **(period or PERIOD))  # type: ignore[arg-type]


async def test_sessions_ai_only_and_transfers(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, small_history.shanghai.id)
    assert (summary.first_day, summary.last_day, summary.timezone) == (
        "2026-11-20",
        "2026-11-25",
        "Asia/Shanghai",
    )
    # Sessions 1, 2, 3, 4, 5, 7 (6 is before the period, 8 is a rating click); 5 is still open.
    assert (summary.sessions_started, summary.sessions_ended) == (6, 5)
    assert (summary.ai_only_resolved, summary.ai_only_rate) == (1, 0.2)  # session 1, of 5 ended
    assert (summary.transferred, summary.transfer_rate) == (4, 0.6667)  # 2, 3, 4, 7 of 6
    assert summary.transfer_reasons == {"button": 1, "human_only": 1, "keyword": 1, "not_sure_streak": 1}


async def test_how_sessions_ended_and_servicers_passing_them_on(
    rt: Runtime, small_history: SmallHistory
) -> None:
    summary = await summary_of(rt, small_history.shanghai.id)
    # 2 and 3 by their servicer, 1 by the AI idle timeout, 4 by the queue timeout, 7 by hand;
    # 5 is still open.
    assert summary.end_reasons == {
        "servicer": 2,
        "ai_idle_timeout": 1,
        "ended_by_hand": 1,
        "queue_timeout": 1,
    }
    assert summary.transferred_between_servicers == 1  # session 3: lisi → zhangsan → lisi
    assert summary.taken_unanswered == 0  # a servicer wrote in 2, 3 and 7
    # The last 7 days add session 6, ended by Kefu before the upgrade that records why.
    week = await summary_of(rt, small_history.shanghai.id, first_day=None, last_day=None)
    assert week.end_reasons["other"] == 1
    london = await summary_of(rt, small_history.london.id)
    assert london.end_reasons == {"ended_in_wecom": 1}  # found ended by a state check


async def test_waiting_and_first_response(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, small_history.shanghai.id)
    # Waits 60, 120, 300: the median is the 2nd, p90 the ⌈2.7⌉ = 3rd.
    assert summary.waiting.model_dump() == {"count": 3, "median_s": 120, "p90_s": 300}
    assert (summary.waited_taken, summary.waited_abandoned) == (2, 1)
    assert summary.wait_buckets == {"<30s": 0, "30s-1m": 0, "1-2m": 1, "2-5m": 1, "5-10m": 1, ">=10m": 0}
    assert summary.first_response.model_dump() == {"count": 3, "median_s": 30, "p90_s": 50}  # 10, 30, 50


async def test_satisfaction_and_servicers(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, small_history.shanghai.id)
    assert summary.satisfaction.model_dump() == {
        "rated": 3,
        "average": 53.33,
        "distribution": {0: 1, 60: 1, 100: 1},
        "labels": {0: "不满意", 60: "一般", 100: "满意"},
        # The endings of 2, 3 and 7, which a servicer held, carried the survey: all 3 rated.
        "surveyed": 3,
        "participation_rate": 1.0,
    }
    # Session 6's rating counts, but not in the rate: whether its survey went out was not recorded.
    week = await summary_of(rt, small_history.shanghai.id, first_day=None, last_day=None)
    assert (week.satisfaction.rated, week.satisfaction.surveyed, week.satisfaction.participation_rate) == (
        4,
        3,
        1.0,
    )
    assert [load.model_dump() for load in summary.servicers] == [
        # sessions 2 and 7: first replies 30 and 50 (the lower median of two), ratings 100 and 0
        {
            "userid": "zhangsan",
            "received": 2,
            "ended": 2,
            "median_first_response_s": 30,
            "rated": 2,
            "average_rating": 50.0,
            "over_cap": 1,
            "transferred_in": 1,  # session 3, from lisi
            "transferred_out": 1,  # … given back to her
            "unanswered": 1,  # … without a word
        },
        {
            "userid": "lisi",
            "received": 1,
            "ended": 1,
            "median_first_response_s": 10,
            "rated": 1,
            "average_rating": 60.0,
            "over_cap": 0,
            "transferred_in": 1,  # session 3, back from zhangsan
            "transferred_out": 1,
            "unanswered": 0,
        },
    ]


async def test_days_and_hours_in_the_accounts_time_zone(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, small_history.shanghai.id)
    assert [(d.day, d.sessions) for d in summary.per_day] == [
        ("2026-11-20", 1),
        ("2026-11-21", 0),
        ("2026-11-22", 0),
        ("2026-11-23", 3),  # session 5 started on 11-22 in UTC
        ("2026-11-24", 2),
        ("2026-11-25", 0),
    ]
    assert {hour: n for hour, n in enumerate(summary.per_hour) if n} == {0: 2, 9: 1, 10: 1, 11: 1, 14: 1}
    london = await summary_of(rt, small_history.london.id)
    assert london.timezone == "Europe/London" and london.sessions_started == 1
    assert {hour: n for hour, n in enumerate(london.per_hour) if n} == {2: 1}


async def test_all_accounts(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, None)
    assert summary.account_id is None and summary.timezone == "Asia/Shanghai"
    assert (summary.sessions_started, summary.sessions_ended, summary.ai_only_resolved) == (7, 6, 2)
    assert summary.ai_only_rate == 0.3333


async def test_the_default_period_is_the_last_7_days(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, small_history.shanghai.id, first_day=None, last_day=None)
    # The clock: 2026-11-25 10:00 in Shanghai.
    assert (summary.first_day, summary.last_day) == ("2026-11-19", "2026-11-25")
    assert summary.sessions_started == 7  # session 6 (11-19 23:59) now counts


async def test_an_empty_period_has_no_rates(rt: Runtime, small_history: SmallHistory) -> None:
    summary = await summary_of(rt, None, first_day=date(2026, 1, 1), last_day=date(2026, 1, 2))
    assert (summary.sessions_started, summary.ai_only_rate, summary.transfer_rate) == (0, None, None)
    assert (
        summary.waiting.median_s is None and summary.satisfaction.average is None and summary.servicers == []
    )


async def test_wrong_periods_and_accounts_are_refused(rt: Runtime, small_history: SmallHistory) -> None:
    with pytest.raises(Invalid, match="from must not be after to"):
        await summary_of(rt, None, first_day=date(2026, 11, 25), last_day=date(2026, 11, 20))
    with pytest.raises(Invalid, match="at most 366 days"):
        await summary_of(rt, None, first_day=date(2025, 1, 1), last_day=date(2026, 11, 20))
    with pytest.raises(Invalid, match="between 2000-01-01 and 2999-12-31"):
        await summary_of(rt, None, first_day=date(9999, 12, 31), last_day=date(9999, 12, 31))
    with pytest.raises(NotFound):
        await summary_of(rt, 999)
