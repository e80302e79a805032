"""What the REST API, the console and `kefu report` all call: the summary of a period."""

from __future__ import annotations

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
