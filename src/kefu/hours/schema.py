"""The `hours:` section of an account's settings (人工接待时间).

The config-file schema imports these models, so the file, the console and the
reception engine share one definition. Keys match config-example.yaml exactly.
The account's time zone is not part of this section (it is the account's
`timezone` key); validate it with `TimeZoneName`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kefu.hours.periods import Period, check_day, coerce_period
from kefu.schema_types import AdminText

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_OFF_HOURS_TEXT = "现在是非人工接待时间，您可以先留言，我们上班后第一时间回复。"

PeriodField = Annotated[
    Period,
    PlainValidator(coerce_period),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "description": "HH:MM-HH:MM; the end may be 24:00", "examples": ["09:00-18:00"]}
    ),
]
# One day's periods: sorted by start, no overlaps; [] = closed all day.
DayPeriods = Annotated[list[PeriodField], AfterValidator(check_day)]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PydanticCustomError(
            "unknown_timezone",
            "{quoted} is not a known time zone; use an IANA name such as Asia/Shanghai",
            {"quoted": repr(name), "timezone": name},
        ) from exc
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]

_WORKDAY = ["09:00-18:00"]


class _Strict(BaseModel):
    # A misspelt key in a config file is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeeklySchedule(_Strict):
    """Periods per weekday. A weekday left out is closed; `weekly` left out is Mon–Fri 09:00-18:00."""

    mon: DayPeriods = []
    tue: DayPeriods = []
    wed: DayPeriods = []
    thu: DayPeriods = []
    fri: DayPeriods = []
    sat: DayPeriods = []
    sun: DayPeriods = []

    def for_weekday(self, weekday: int) -> list[Period]:
        """Periods of `date.weekday()` (0 = Monday)."""
        return [self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun][weekday]


def _default_weekly() -> WeeklySchedule:
    return WeeklySchedule.model_validate({day: _WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")})


class OffHoursMessage(_Strict):
    """非接待时间提示语: AI phrasing of `text`'s meaning, `text` as is, or nothing."""

    mode: Literal["ai", "fixed", "none"] = "fixed"
    text: AdminText = DEFAULT_OFF_HOURS_TEXT

    @model_validator(mode="after")
    def _text_when_sent(self) -> OffHoursMessage:
        if self.mode != "none" and not self.text.strip():
            raise PydanticCustomError(
                "off_hours_needs_text",
                "off_hours_message: mode {mode} needs a text (use mode none to send nothing)",
                {"mode": self.mode},
            )
        return self


class HoursSettings(_Strict):
    """Human reception hours of one account."""

    weekly: WeeklySchedule = _default_weekly()
    # Follow China's 法定节假日 (closed) and 调休 working weekend days (adjusted_workday periods).
    statutory_holidays: bool = True
    # Periods on an adjusted working day and on an extra working date; None = Monday's periods.
    adjusted_workday: DayPeriods | None = None
    closed_dates: list[date] = []
    extra_working_dates: list[date] = []
    off_hours_message: OffHoursMessage = OffHoursMessage()
    # Route customers who asked for a human off hours when the next period starts.
    wait_for_opening: bool = True

    @property
    def workday_periods(self) -> list[Period]:
        """The periods used on adjusted working days and extra working dates."""
        return self.weekly.mon if self.adjusted_workday is None else self.adjusted_workday
