"""The date range of a report: whole days in the account's time zone, as a UTC half-open range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import KfAccount
from kefu.accounts.settings import stored_settings
from kefu.db import get_row
from kefu.errors import Invalid
from kefu.hours.schema import DEFAULT_TIMEZONE

DEFAULT_DAYS = 7
MAX_DAYS = 366
# Days a report may name: past these, midnight in a time zone overflows datetime (a 500).
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # inclusive
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return _midnight(self.first_day, self.tz)

    @property
    def end(self) -> datetime:  # exclusive: midnight after the last day
        return _midnight(self.last_day + timedelta(days=1), self.tz)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def make_period(first: date | None, last: date | None, *, tz: ZoneInfo, now: datetime) -> Period:
    """From/to as given (either may be missing); by default the last 7 days up to today."""
    for day in (first, last):
        if day is not None and not EARLIEST <= day <= LATEST:
            rule = f"dates must lie between {EARLIEST} and {LATEST}"
            raise Invalid(rule, "date_out_of_range", {"earliest": str(EARLIEST), "latest": str(LATEST)})
    today = now.astimezone(tz).date()
    last = last or (first + timedelta(days=DEFAULT_DAYS - 1) if first else today)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("from must not be after to", "from_after_to")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"a report covers at most {MAX_DAYS} days", "too_many_days", {"max": MAX_DAYS})
    return Period(first, last, tz)


async def timezone_of(session: AsyncSession, account_id: int | None) -> ZoneInfo:
    """The account's time zone (its settings' `timezone`); all accounts: Kefu's default."""
    if account_id is None:
        return ZoneInfo(DEFAULT_TIMEZONE)
    account = await get_row(session, KfAccount, account_id, "account")
    return ZoneInfo(stored_settings(account).timezone)
