"""ReceptionCalendar: when an account's humans are on duty. Pure: `now` is always passed in.

Semantics (wall-clock): reception is open at an instant when its local wall time,
in the account's time zone, lies in one of the periods of its local date. Across a
DST change this means a period starting inside a skipped hour opens when the clock
jumps, and a period inside a repeated hour is open both times round.

Instants we return are aware datetimes in UTC, like the Clock's and the database's:
local datetimes are traps (Python subtracts two that share a tzinfo by wall time,
and one inside a repeated hour never equals an instant of another zone). Turn them
into the account's wall time with `local()` or words with `describe_opening()`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kefu.hours import holidays
from kefu.hours.describe import describe_hours, describe_opening
from kefu.hours.holidays import StatutoryKind
from kefu.hours.periods import Period
from kefu.hours.schema import DEFAULT_TIMEZONE, HoursSettings

# How far next_opening / current_period_end look ahead before giving up.
SEARCH_DAYS = 400

_TICK = timedelta(microseconds=1)
_CACHED_DAYS = 4096
# The window searched for a DST change around a local day: its midnight - 3 h to + 30 h.
# Windows of neighbouring days overlap, so a change at midnight is not missed.
_BEFORE_DAY = timedelta(hours=3)
_DAY_WINDOW = timedelta(hours=33)


class DayKind(enum.StrEnum):
    WEEKLY = "weekly"  # the weekday's periods
    STATUTORY_HOLIDAY = "statutory_holiday"  # closed
    ADJUSTED_WORKDAY = "adjusted_workday"  # 调休 weekend working day: workday periods
    CLOSED_DATE = "closed_date"  # admin-entered: closed
    EXTRA_WORKING_DATE = "extra_working_date"  # admin-entered: workday periods
    FALLBACK_WEEKLY = "fallback_weekly"  # statutory_holidays on, but no data for the year: weekly


class ReceptionCalendar:
    """Reception hours of one account in its time zone (`tz`, the account's `timezone` key)."""

    def __init__(self, settings: HoursSettings, tz: str | ZoneInfo = DEFAULT_TIMEZONE) -> None:
        self.settings = settings
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._closed = frozenset(settings.closed_dates)
        self._extra = frozenset(settings.extra_working_dates)
        # Searches ask about the same days over and over; settings are frozen, so cache.
        self._periods: dict[date, tuple[Period, ...]] = {}

    # --- days -------------------------------------------------------------------------------

    def day_kind(self, day: date) -> DayKind:
        """Why `day` has the periods it has. Precedence: closed > extra > statutory > weekly."""
        if day in self._closed:
            return DayKind.CLOSED_DATE
        if day in self._extra:
            return DayKind.EXTRA_WORKING_DATE
        if not self.settings.statutory_holidays:
            return DayKind.WEEKLY
        kind = holidays.statutory_kind(day)
        if kind is StatutoryKind.HOLIDAY:
            return DayKind.STATUTORY_HOLIDAY
        if kind is StatutoryKind.ADJUSTED_WORKDAY:
            return DayKind.ADJUSTED_WORKDAY
        if kind is StatutoryKind.UNKNOWN:
            return DayKind.FALLBACK_WEEKLY
        return DayKind.WEEKLY

    def periods_on(self, day: date) -> list[Period]:
        """The periods of a local date, sorted by start; [] when closed all day."""
        return list(self._periods_of(day))

    def _periods_of(self, day: date) -> tuple[Period, ...]:
        cached = self._periods.get(day)
        if cached is not None:
            return cached
        kind = self.day_kind(day)
        if kind in (DayKind.CLOSED_DATE, DayKind.STATUTORY_HOLIDAY):
            periods: tuple[Period, ...] = ()
        elif kind in (DayKind.EXTRA_WORKING_DATE, DayKind.ADJUSTED_WORKDAY):
            periods = tuple(self.settings.workday_periods)
        else:
            periods = tuple(self.settings.weekly.for_weekday(day.weekday()))
        if len(self._periods) > _CACHED_DAYS:
            self._periods.clear()
        self._periods[day] = periods
        return periods

    # --- instants ---------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        """`moment` in the account's time zone; refuses naive datetimes."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("reception hours need an aware datetime (with a time zone)")
        return moment.astimezone(self.tz)

    def is_open(self, now: datetime) -> bool:
        wall = self.local(now)
        return any(period.contains(wall.time()) for period in self._periods_of(wall.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The earliest instant ≥ `at` when reception is open.

        `at` itself (in UTC) when open at `at`; otherwise the instant
        the calendar next goes from closed to open. None if it stays closed for
        SEARCH_DAYS days.
        """
        if self.is_open(at):
            return self.local(at).astimezone(UTC)
        return self._next_change(at, opening=True)

    def current_period_end(self, now: datetime) -> datetime | None:
        """When the open stretch around `now` closes; None when closed at `now`.

        Touching periods and a 24:00 end followed by a 00:00 start count as one
        stretch. Also None if it stays open for SEARCH_DAYS days.
        """
        if not self.is_open(now):
            return None
        return self._next_change(now, opening=False)

    def _next_change(self, after: datetime, *, opening: bool) -> datetime | None:
        """First instant > `after` where is_open flips to `opening`.

        Each day proposes candidate instants (its period boundaries in both folds of
        an ambiguous hour, and any DST jump near it); a candidate counts when the
        state really flips there. The days are walked in order, so the first day
        with a real flip holds the answer (its neighbour is checked too, in case a
        DST jump sends the clock back across midnight).
        """
        after_utc = after.astimezone(UTC)
        first_day = self.local(after).date() - timedelta(days=1)
        for offset in range(SEARCH_DAYS + 2):
            found = self._flips_on(first_day + timedelta(days=offset), after_utc, opening)
            if found:
                found |= self._flips_on(first_day + timedelta(days=offset + 1), after_utc, opening)
                return min(found)
        return None

    def _flips_on(self, day: date, after_utc: datetime, opening: bool) -> set[datetime]:
        boundaries: set[tuple[date, time]] = set()
        for period in self._periods_of(day):
            if opening:
                boundaries.add((day, period.start_time))
            elif period.end_time is None:
                boundaries.add((day + timedelta(days=1), time(0)))
            else:
                boundaries.add((day, period.end_time))
        candidates = {instant for d, t in boundaries for instant in self._instants_at(d, t)}
        candidates |= set(self._transitions_near(day))
        return {
            c
            for c in candidates
            if c > after_utc and self.is_open(c) is opening and self.is_open(c - _TICK) is not opening
        }

    def _instants_at(self, day: date, wall: time) -> Iterator[datetime]:
        """The UTC instants whose local wall time is `day wall`: none, one, or two."""
        for fold in (0, 1):
            instant = datetime.combine(day, wall, tzinfo=self.tz).replace(fold=fold).astimezone(UTC)
            back = instant.astimezone(self.tz)
            if back.date() == day and back.time() == wall:
                yield instant

    def _transitions_near(self, day: date) -> Iterator[datetime]:
        """UTC instants near `day` where the zone's UTC offset changes (DST)."""
        low = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC) - _BEFORE_DAY
        high = low + _DAY_WINDOW
        if self._offset(low) == self._offset(high):
            return
        # Offsets change on whole seconds: bisect to the first second with the new offset.
        lo, hi = int(low.timestamp()), int(high.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset(datetime.fromtimestamp(mid, UTC)) == self._offset(low):
                lo = mid
            else:
                hi = mid
        yield datetime.fromtimestamp(hi, UTC)

    def _offset(self, instant: datetime) -> timedelta | None:
        return instant.astimezone(self.tz).utcoffset()

    # --- words ------------------------------------------------------------------------------

    def describe(self, locale: str = "zh") -> str:
        """The schedule in words, e.g. "工作日 09:00-12:00、13:30-18:00（法定节假日除外）"."""
        return describe_hours(self.settings, locale)

    def describe_opening(self, opening: datetime, now: datetime, locale: str = "zh") -> str:
        """An opening instant in words relative to `now`, e.g. "明天 09:00", "10月8日（周四）09:00"."""
        return describe_opening(self.local(opening), self.local(now), locale)

    def holiday_data_warning(self, today: date, locale: str = "zh") -> str | None:
        """The console's warning that holiday data runs out; None when holidays are not followed."""
        if not self.settings.statutory_holidays:
            return None
        return holidays.holiday_data_warning(today, locale=locale)
