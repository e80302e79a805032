"""China's statutory holidays and adjusted working days, from `chinese_calendar`.

The State Council publishes each year's holidays late in the year before, so the
library knows only up to some year (1.11: 2004–2026) and raises an error for any year
beyond. We read its supported range once from its own data and never ask it about
a year outside that range: such days are simply "unknown" and the caller falls
back to the weekly schedule.
"""

from __future__ import annotations

import enum
from datetime import date
from functools import cache, lru_cache

import chinese_calendar

# How long before the end of the last known year the console starts warning.
WARN_DAYS_BEFORE_YEAR_END = 60


class StatutoryKind(enum.Enum):
    HOLIDAY = "holiday"  # a named statutory holiday (or a weekend day inside its break): closed
    ADJUSTED_WORKDAY = "adjusted_workday"  # 调休: a weekend day that is a working day
    ORDINARY = "ordinary"  # an ordinary weekday or weekend day
    UNKNOWN = "unknown"  # outside the library's data


@cache
def data_years() -> tuple[int, int]:
    """First and last year the installed library has holiday data for."""
    years = {day.year for day in chinese_calendar.holidays}
    return min(years), max(years)


def has_data(day: date) -> bool:
    first, last = data_years()
    return first <= day.year <= last


@lru_cache(maxsize=4096)
def statutory_kind(day: date) -> StatutoryKind:
    if not has_data(day):
        return StatutoryKind.UNKNOWN
    # get_holiday_detail: (True, name) on a statutory holiday, (False, name) on an
    # adjusted working day, (is_weekend, None) on any other day.
    is_rest, name = chinese_calendar.get_holiday_detail(day)
    if name is None:
        return StatutoryKind.ORDINARY
    if is_rest:
        return StatutoryKind.HOLIDAY
    # Only weekend days are ever moved to work; a named weekday workday is just a weekday.
    return StatutoryKind.ADJUSTED_WORKDAY if day.weekday() >= 5 else StatutoryKind.ORDINARY


def holiday_data_warning(
    today: date, *, locale: str = "zh", warn_days: int = WARN_DAYS_BEFORE_YEAR_END
) -> str | None:
    """A warning for the console when the holiday data runs out soon or has run out.

    Warns when today is past the last known year, or within `warn_days` of that
    year's end while the next year is unknown. None otherwise.
    """
    _, last = data_years()
    if today.year > last:
        return _warning_text(last, locale, ended=True)
    days_left = (date(last + 1, 1, 1) - today).days
    if today.year == last and days_left <= warn_days:
        return _warning_text(last, locale, ended=False)
    return None


def _warning_text(last: int, locale: str, *, ended: bool) -> str:
    following = last + 1
    if locale.startswith("zh"):
        if ended:
            return (
                f"法定节假日数据只到 {last} 年，{following} 年起按每周时间表和手动设置的日期执行；"
                "请升级 chinesecalendar 或手动添加节假日"
            )
        return (
            f"法定节假日数据只到 {last} 年，{following} 年起将按每周时间表和手动设置的日期执行；"
            "请在年底前升级 chinesecalendar 或手动添加节假日"
        )
    if ended:
        return (
            f"Statutory holiday data ends with {last}; from {following} reception follows the weekly "
            "schedule and the dates set by hand. Upgrade chinesecalendar or add the holidays as "
            "closed dates and extra working dates."
        )
    return (
        f"Statutory holiday data ends with {last}; from {following} reception will follow the weekly "
        "schedule and the dates set by hand. Upgrade chinesecalendar before the year ends or add the "
        "holidays as closed dates and extra working dates."
    )
