"""ReceptionCalendar on pinned dates inside chinese-calendar's data (2026), across DST, and past the data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kefu.hours import DayKind, HoursSettings, ReceptionCalendar, holiday_data_years

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = ["09:00-12:00", "13:30-18:00"]


def office(**overrides: object) -> HoursSettings:
    """The config example's office hours: Mon–Fri 09:00-12:00 and 13:30-18:00, holidays followed."""
    data: dict[str, object] = {"weekly": {d: OFFICE for d in ("mon", "tue", "wed", "thu", "fri")}}
    data.update(overrides)
    return HoursSettings.model_validate(data)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


CAL = ReceptionCalendar(office(), "Asia/Shanghai")


@pytest.mark.parametrize(
    ("day", "kind", "periods"),
    [
        (date(2026, 10, 1), DayKind.STATUTORY_HOLIDAY, []),  # National Day, a Thursday
        (date(2026, 10, 3), DayKind.STATUTORY_HOLIDAY, []),  # a Saturday inside the break
        (date(2026, 10, 7), DayKind.STATUTORY_HOLIDAY, []),
        (date(2026, 10, 8), DayKind.WEEKLY, OFFICE),  # first day back, a Thursday
        (date(2026, 10, 10), DayKind.ADJUSTED_WORKDAY, OFFICE),  # 调休: a working Saturday
        (date(2026, 9, 20), DayKind.ADJUSTED_WORKDAY, OFFICE),  # 调休: a working Sunday
        (date(2026, 10, 11), DayKind.WEEKLY, []),  # an ordinary Sunday
        (date(2026, 10, 12), DayKind.WEEKLY, OFFICE),  # an ordinary Monday
        (date(2026, 10, 17), DayKind.WEEKLY, []),  # an ordinary Saturday
    ],
)
def test_days_in_2026(day: date, kind: DayKind, periods: list[str]) -> None:
    assert CAL.day_kind(day) is kind
    assert [str(p) for p in CAL.periods_on(day)] == periods


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (sh(2026, 10, 1, 10, 0), False),  # National Day
        (sh(2026, 10, 10, 10, 0), True),  # working Saturday, morning
        (sh(2026, 10, 10, 12, 30), False),  # working Saturday, lunch
        (sh(2026, 10, 10, 14, 0), True),
        (sh(2026, 10, 12, 8, 59, 59), False),  # ordinary Monday
        (sh(2026, 10, 12, 9, 0), True),
        (sh(2026, 10, 12, 11, 59, 59, 999999), True),
        (sh(2026, 10, 12, 12, 0), False),
        (sh(2026, 10, 12, 17, 59, 59), True),
        (sh(2026, 10, 12, 18, 0), False),
        (sh(2026, 10, 17, 10, 0), False),  # weekend
        (utc(2026, 10, 12, 1, 30), True),  # 09:30 in Shanghai: the zone is the account's
        (utc(2026, 10, 11, 23, 30), False),  # Monday 07:30 in Shanghai
    ],
)
def test_is_open(now: datetime, is_open: bool) -> None:
    assert CAL.is_open(now) is is_open


@pytest.mark.parametrize(
    ("at", "opening"),
    [
        (sh(2026, 9, 30, 18, 30), sh(2026, 10, 8, 9, 0)),  # across the National Day week
        (sh(2026, 10, 9, 18, 0), sh(2026, 10, 10, 9, 0)),  # Friday evening → working Saturday
        (sh(2026, 10, 10, 12, 0), sh(2026, 10, 10, 13, 30)),  # lunch break
        (sh(2026, 10, 16, 18, 0), sh(2026, 10, 19, 9, 0)),  # across a weekend
        (sh(2026, 10, 19, 6, 0), sh(2026, 10, 19, 9, 0)),
        (sh(2026, 10, 19, 10, 0), sh(2026, 10, 19, 10, 0)),  # open now: now
    ],
)
def test_next_opening(at: datetime, opening: datetime) -> None:
    found = CAL.next_opening(at)
    assert found == opening
    assert found is not None and found.tzinfo is UTC


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (sh(2026, 10, 12, 9, 0), sh(2026, 10, 12, 12, 0)),
        (sh(2026, 10, 12, 17, 0), sh(2026, 10, 12, 18, 0)),
        (sh(2026, 10, 10, 13, 30), sh(2026, 10, 10, 18, 0)),
        (sh(2026, 10, 12, 12, 0), None),  # closed: no period to end
    ],
)
def test_current_period_end(now: datetime, end: datetime | None) -> None:
    assert CAL.current_period_end(now) == end


def test_touching_periods_and_24h_ends_are_one_stretch() -> None:
    cal = ReceptionCalendar(
        HoursSettings.model_validate(
            {
                "weekly": {"fri": ["12:00-18:00", "18:00-24:00"], "sat": ["00:00-02:00"]},
                "statutory_holidays": False,
            }
        )
    )
    assert cal.is_open(sh(2026, 10, 16, 23, 59, 59, 999999))
    assert cal.is_open(sh(2026, 10, 17, 0, 0))
    assert cal.current_period_end(sh(2026, 10, 16, 13, 0)) == sh(2026, 10, 17, 2, 0)
    assert cal.next_opening(sh(2026, 10, 17, 2, 0)) == sh(2026, 10, 23, 12, 0)


def test_all_day() -> None:
    always = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cal = ReceptionCalendar(HoursSettings.model_validate({"weekly": always, "statutory_holidays": False}))
    assert cal.is_open(sh(2026, 10, 1, 0, 0)) and cal.is_open(sh(2026, 10, 4, 23, 59))
    assert cal.next_opening(sh(2026, 10, 1, 3, 0)) == sh(2026, 10, 1, 3, 0)
    assert cal.current_period_end(sh(2026, 10, 1, 3, 0)) is None  # never closes within the horizon
    holidays = ReceptionCalendar(HoursSettings.model_validate({"weekly": always}))
    assert holidays.current_period_end(sh(2026, 9, 30, 3, 0)) == sh(2026, 10, 1, 0, 0)
    assert holidays.next_opening(sh(2026, 10, 1, 0, 0)) == sh(2026, 10, 8, 0, 0)


def test_never_open() -> None:
    cal = ReceptionCalendar(HoursSettings.model_validate({"weekly": {}, "statutory_holidays": False}))
    assert cal.next_opening(sh(2026, 10, 1, 0, 0)) is None
    assert cal.current_period_end(sh(2026, 10, 1, 0, 0)) is None


def test_admin_dates_take_precedence() -> None:
    cal = ReceptionCalendar(
        office(
            closed_dates=["2026-10-12", "2026-10-10"],
            extra_working_dates=["2026-10-12", "2026-10-01", "2026-10-11"],
            adjusted_workday=["10:00-15:00"],
        )
    )
    # closed_dates beat extra_working_dates and 调休.
    assert cal.day_kind(date(2026, 10, 12)) is DayKind.CLOSED_DATE
    assert cal.periods_on(date(2026, 10, 12)) == []
    assert cal.day_kind(date(2026, 10, 10)) is DayKind.CLOSED_DATE
    # extra_working_dates beat a statutory holiday and a plain Sunday: adjusted periods.
    for day in (date(2026, 10, 1), date(2026, 10, 11)):
        assert cal.day_kind(day) is DayKind.EXTRA_WORKING_DATE
        assert [str(p) for p in cal.periods_on(day)] == ["10:00-15:00"]
    assert cal.is_open(sh(2026, 10, 1, 14, 0)) and not cal.is_open(sh(2026, 10, 1, 16, 0))
    assert cal.next_opening(sh(2026, 10, 1, 16, 0)) == sh(2026, 10, 8, 9, 0)
    assert cal.next_opening(sh(2026, 10, 9, 18, 0)) == sh(2026, 10, 11, 10, 0)  # 10 Oct closed by hand


def test_adjusted_workday_defaults_to_mondays_periods() -> None:
    cal = ReceptionCalendar(office(weekly={"mon": ["08:00-20:00"], "fri": OFFICE}))
    assert [str(p) for p in cal.periods_on(date(2026, 10, 10))] == ["08:00-20:00"]
    assert cal.is_open(sh(2026, 10, 10, 19, 0))


def test_without_statutory_holidays_the_weekly_schedule_rules() -> None:
    cal = ReceptionCalendar(office(statutory_holidays=False))
    assert cal.day_kind(date(2026, 10, 1)) is DayKind.WEEKLY
    assert cal.is_open(sh(2026, 10, 1, 10, 0))
    assert not cal.is_open(sh(2026, 10, 10, 10, 0))
    assert cal.holiday_data_warning(date(2027, 6, 1)) is None


def test_other_time_zone() -> None:
    new_york = ReceptionCalendar(
        HoursSettings.model_validate({"weekly": {"mon": ["09:00-17:00"]}, "statutory_holidays": False}),
        "America/New_York",
    )
    assert new_york.is_open(utc(2026, 10, 12, 13, 30))  # 09:30 EDT
    assert not new_york.is_open(utc(2026, 10, 12, 12, 59))  # 08:59 EDT
    assert new_york.next_opening(utc(2026, 10, 12, 21, 0)) == utc(2026, 10, 19, 13, 0)  # 09:00 EDT
    # Monday 26 Oct 17:00 EDT; the next Monday is after the change to EST: 09:00 is 14:00 UTC.
    opening = new_york.next_opening(utc(2026, 10, 26, 21, 0))
    assert opening == utc(2026, 11, 2, 14, 0)
    assert opening is not None and new_york.local(opening).hour == 9


def test_holidays_follow_the_accounts_local_date() -> None:
    always = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    settings = HoursSettings.model_validate({"weekly": always})
    instant = utc(2026, 10, 7, 17, 0)  # Berlin: 7 Oct 19:00 (holiday); Shanghai: 8 Oct 01:00
    assert not ReceptionCalendar(settings, "Europe/Berlin").is_open(instant)
    assert ReceptionCalendar(settings, "Asia/Shanghai").is_open(instant)


def _berlin_sunday(period: str) -> ReceptionCalendar:
    settings = HoursSettings.model_validate({"weekly": {"sun": [period]}, "statutory_holidays": False})
    return ReceptionCalendar(settings, BERLIN)


def test_dst_spring_forward_opens_when_the_clock_jumps() -> None:
    # 2027-03-28 02:00 CET jumps to 03:00 CEST (01:00 UTC): 02:30 never happens that day.
    cal = _berlin_sunday("02:30-05:00")
    assert cal.next_opening(utc(2027, 3, 27, 12, 0)) == utc(2027, 3, 28, 1, 0)
    assert not cal.is_open(utc(2027, 3, 28, 0, 59, 59))
    assert cal.current_period_end(utc(2027, 3, 28, 1, 0)) == utc(2027, 3, 28, 3, 0)
    # A period wholly inside the skipped hour does not open that day.
    skipped = _berlin_sunday("02:10-02:40")
    assert skipped.next_opening(utc(2027, 3, 27, 12, 0)) == utc(2027, 4, 4, 0, 10)  # 02:10 CEST


def test_dst_fall_back_repeats_the_hour() -> None:
    # 2026-10-25 03:00 CEST falls back to 02:00 CET (01:00 UTC): 02:00-03:00 happens twice.
    cal = _berlin_sunday("02:15-02:45")
    assert cal.next_opening(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 15)
    assert cal.current_period_end(utc(2026, 10, 25, 0, 20)) == utc(2026, 10, 25, 0, 45)
    assert cal.next_opening(utc(2026, 10, 25, 0, 50)) == utc(2026, 10, 25, 1, 15)
    found = cal.next_opening(utc(2026, 10, 25, 0, 50))
    assert found is not None
    wall = cal.local(found)
    assert (wall.fold, wall.hour, wall.minute) == (1, 2, 15)
    # Open from 02:30 CEST; the clock falls back to 02:00 CET (closed) and reaches 02:30 again.
    late = _berlin_sunday("02:30-04:00")
    assert late.current_period_end(utc(2026, 10, 25, 0, 40)) == utc(2026, 10, 25, 1, 0)
    assert late.next_opening(utc(2026, 10, 25, 1, 0)) == utc(2026, 10, 25, 1, 30)
    assert late.current_period_end(utc(2026, 10, 25, 1, 30)) == utc(2026, 10, 25, 3, 0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        CAL.is_open(datetime(2026, 10, 12, 10, 0))  # naive on purpose


def test_minute_scan_agrees_with_next_opening_over_the_holiday() -> None:
    """Brute force: step minute by minute from 30 Sep to the first open minute."""
    at = sh(2026, 9, 30, 17, 0)
    moment = CAL.current_period_end(at)
    assert moment == sh(2026, 9, 30, 18, 0)
    step = moment.astimezone(UTC)
    while not CAL.is_open(step):
        step += timedelta(minutes=1)
    assert step == CAL.next_opening(moment) == sh(2026, 10, 8, 9, 0)


@pytest.mark.skipif(holiday_data_years()[1] >= 2027, reason="the installed chinesecalendar knows 2027")
def test_2027_falls_back_to_weekly_and_admin_dates() -> None:
    cal = ReceptionCalendar(office(closed_dates=["2027-01-04"], extra_working_dates=["2027-01-09"]))
    assert cal.day_kind(date(2027, 1, 1)) is DayKind.FALLBACK_WEEKLY  # New Year's Day: data unknown
    assert cal.is_open(sh(2027, 1, 1, 10, 0))  # a Friday, weekly schedule
    assert cal.day_kind(date(2027, 1, 4)) is DayKind.CLOSED_DATE
    assert cal.day_kind(date(2027, 1, 9)) is DayKind.EXTRA_WORKING_DATE
    assert cal.is_open(sh(2027, 1, 9, 10, 0))  # a Saturday opened by hand
    assert cal.next_opening(sh(2026, 12, 31, 18, 0)) == sh(2027, 1, 1, 9, 0)
    assert cal.next_opening(sh(2027, 1, 1, 18, 0)) == sh(2027, 1, 5, 9, 0)  # via the closed Monday
    warning = cal.holiday_data_warning(date(2027, 1, 1))
    assert warning == (
        "法定节假日数据只到 2026 年，2027 年起按每周时间表和手动设置的日期执行；"
        "请升级 chinesecalendar 或手动添加节假日"
    )


def test_past_the_data_never_calls_the_library() -> None:
    import chinese_calendar

    first, last = holiday_data_years()
    beyond = date(last + 1, 10, 1)
    with pytest.raises(NotImplementedError):
        chinese_calendar.get_holiday_detail(beyond)  # the library itself would crash here
    cal = ReceptionCalendar(office())
    assert cal.day_kind(beyond) is DayKind.FALLBACK_WEEKLY
    assert cal.day_kind(date(first - 1, 10, 1)) is DayKind.FALLBACK_WEEKLY
    assert cal.is_open(datetime.combine(beyond, datetime.min.time(), SHANGHAI).replace(hour=10)) is (
        beyond.weekday() < 5
    )
    assert cal.holiday_data_warning(beyond) is not None
