"""The holiday data's range and its warnings; the schedule and an opening in words."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from kefu.hours import HoursSettings, ReceptionCalendar, holiday_data_warning, holiday_data_years
from kefu.hours.holidays import StatutoryKind, statutory_kind

FIRST, LAST = holiday_data_years()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_data_years_come_from_the_library() -> None:
    assert FIRST == 2004
    assert LAST >= 2026  # chinesecalendar 1.11 stops at 2026; a newer one may know more


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2026, 10, 1), StatutoryKind.HOLIDAY),
        (date(2026, 10, 4), StatutoryKind.HOLIDAY),  # a Sunday inside the break
        (date(2026, 10, 10), StatutoryKind.ADJUSTED_WORKDAY),
        (date(2026, 10, 9), StatutoryKind.ORDINARY),
        (date(2026, 10, 11), StatutoryKind.ORDINARY),  # a plain Sunday is not a statutory holiday
        (date(LAST + 1, 1, 1), StatutoryKind.UNKNOWN),
        (date(FIRST - 1, 12, 31), StatutoryKind.UNKNOWN),
    ],
)
def test_statutory_kind(day: date, kind: StatutoryKind) -> None:
    assert statutory_kind(day) is kind


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(LAST, 6, 1), None),
        (date(LAST, 11, 1), None),  # 61 days before the next year
        (date(LAST, 11, 2), "soon"),  # 60 days
        (date(LAST, 12, 31), "soon"),
        (date(LAST + 1, 1, 1), "ended"),
        (date(LAST + 3, 7, 1), "ended"),
        (date(FIRST - 1, 12, 1), None),
    ],
)
def test_warning_when_the_data_runs_out(today: date, expected: str | None) -> None:
    zh = holiday_data_warning(today)
    en = holiday_data_warning(today, locale="en")
    if expected is None:
        assert zh is None and en is None
        return
    assert zh is not None and en is not None
    assert zh.startswith(f"法定节假日数据只到 {LAST} 年，{LAST + 1} 年起")
    assert f"Statutory holiday data ends with {LAST}; from {LAST + 1}" in en
    if expected == "ended":
        assert zh == (
            f"法定节假日数据只到 {LAST} 年，{LAST + 1} 年起按每周时间表和手动设置的日期执行；"
            "请升级 chinesecalendar 或手动添加节假日"
        )
        assert "reception follows the weekly schedule" in en
    else:
        assert "年起将按每周时间表" in zh and "请在年底前升级" in zh
        assert "reception will follow the weekly schedule" in en


def test_warning_window_is_adjustable() -> None:
    assert holiday_data_warning(date(LAST, 12, 1), warn_days=7) is None
    assert holiday_data_warning(date(LAST, 12, 25), warn_days=7) is not None


def _words(weekly: dict[str, list[str]], statutory: bool = True) -> tuple[str, str]:
    cal = ReceptionCalendar(HoursSettings.model_validate({"weekly": weekly, "statutory_holidays": statutory}))
    return cal.describe(), cal.describe("en")


OFFICE = ["09:00-12:00", "13:30-18:00"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


@pytest.mark.parametrize(
    ("weekly", "statutory", "zh", "en"),
    [
        (
            {d: OFFICE for d in WEEKDAYS},
            True,
            "工作日 09:00-12:00、13:30-18:00（法定节假日除外）",
            "Weekdays 09:00-12:00, 13:30-18:00 (closed on public holidays)",
        ),
        (
            {**{d: ["09:00-18:00"] for d in WEEKDAYS}, "sat": ["10:00-16:00"], "sun": ["10:00-16:00"]},
            False,
            "工作日 09:00-18:00；周末 10:00-16:00",
            "Weekdays 09:00-18:00; Weekends 10:00-16:00",
        ),
        (
            {d: ["00:00-24:00"] for d in (*WEEKDAYS, "sat", "sun")},
            False,
            "每天 00:00-24:00",
            "Every day 00:00-24:00",
        ),
        (
            {"mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-18:00"], "fri": ["09:00-18:00"]},
            False,
            "周一至周三、周五 09:00-18:00",
            "Mon–Wed, Fri 09:00-18:00",
        ),
        (
            {"mon": ["09:00-12:00"], "tue": ["09:00-12:00"], "sat": ["20:00-24:00"]},
            False,
            "周一、周二 09:00-12:00；周六 20:00-24:00",
            "Mon, Tue 09:00-12:00; Sat 20:00-24:00",
        ),
        ({}, False, "暂无固定接待时间", "no regular reception hours"),
    ],
)
def test_describe(weekly: dict[str, list[str]], statutory: bool, zh: str, en: str) -> None:
    assert _words(weekly, statutory) == (zh, en)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("opening", "now", "zh", "en"),
    [
        (sh(2026, 10, 12, 13, 30), sh(2026, 10, 12, 12, 5), "今天 13:30", "today at 13:30"),
        (sh(2026, 10, 13, 9, 0), sh(2026, 10, 12, 18, 5), "明天 09:00", "tomorrow at 09:00"),
        (sh(2026, 10, 8, 9, 0), sh(2026, 9, 30, 18, 5), "10月8日（周四）09:00", "Thu 8 Oct at 09:00"),
        (
            sh(2027, 1, 4, 9, 0),
            sh(2026, 12, 31, 18, 5),
            "2027年1月4日（周一）09:00",
            "Mon 4 Jan 2027 at 09:00",
        ),
    ],
)
def test_describe_opening(opening: datetime, now: datetime, zh: str, en: str) -> None:
    cal = ReceptionCalendar(HoursSettings())
    # Given in UTC, as next_opening returns them: words are in the account's zone.
    utc_opening, utc_now = (opening.astimezone(ZoneInfo("UTC")), now.astimezone(ZoneInfo("UTC")))
    assert cal.describe_opening(utc_opening, utc_now) == zh
    assert cal.describe_opening(utc_opening, utc_now, locale="en") == en
