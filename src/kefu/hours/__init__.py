"""Human reception hours (人工接待时间): weekly periods, China's statutory holidays, admin dates.

Pure: no database, no clock, no I/O. The reception engine passes `now` in.
"""

from kefu.hours.calendar import SEARCH_DAYS, DayKind, ReceptionCalendar
from kefu.hours.holidays import data_years as holiday_data_years
from kefu.hours.holidays import holiday_data_warning
from kefu.hours.periods import Period
from kefu.hours.schema import (
    DEFAULT_TIMEZONE,
    HoursSettings,
    OffHoursMessage,
    TimeZoneName,
    WeeklySchedule,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "SEARCH_DAYS",
    "DayKind",
    "HoursSettings",
    "OffHoursMessage",
    "Period",
    "ReceptionCalendar",
    "TimeZoneName",
    "WeeklySchedule",
    "holiday_data_warning",
    "holiday_data_years",
]
