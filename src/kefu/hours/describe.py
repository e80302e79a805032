"""Reception hours in words, for the off-hours message and the console (zh and en)."""

from __future__ import annotations

from datetime import datetime

from kefu.hours.periods import Period
from kefu.hours.schema import HoursSettings

_ZH_DAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
_EN_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

_ZH_SETS = {(0, 1, 2, 3, 4): "工作日", (5, 6): "周末", (0, 1, 2, 3, 4, 5, 6): "每天"}
_EN_SETS = {(0, 1, 2, 3, 4): "Weekdays", (5, 6): "Weekends", (0, 1, 2, 3, 4, 5, 6): "Every day"}


def _is_zh(locale: str) -> bool:
    return locale.lower().startswith("zh")


def describe_hours(settings: HoursSettings, locale: str = "zh") -> str:
    """E.g. "工作日 09:00-12:00、13:30-18:00；周六 10:00-16:00（法定节假日除外）".

    Weekdays with the same periods are grouped; closed weekdays are left out.
    """
    zh = _is_zh(locale)
    groups: dict[tuple[Period, ...], list[int]] = {}
    for weekday in range(7):
        periods = tuple(settings.weekly.for_weekday(weekday))
        if periods:
            groups.setdefault(periods, []).append(weekday)
    if not groups:
        return "暂无固定接待时间" if zh else "no regular reception hours"
    parts = []
    for periods, weekdays in groups.items():
        joined = ("、" if zh else ", ").join(str(p) for p in periods)
        parts.append(f"{_days_label(weekdays, zh)} {joined}")
    text = ("；" if zh else "; ").join(parts)
    if settings.statutory_holidays:
        text += "（法定节假日除外）" if zh else " (closed on public holidays)"
    return text


def _days_label(weekdays: list[int], zh: bool) -> str:
    named = (_ZH_SETS if zh else _EN_SETS).get(tuple(weekdays))
    if named:
        return named
    names = _ZH_DAYS if zh else _EN_DAYS
    runs: list[list[int]] = []
    for weekday in weekdays:
        if runs and runs[-1][-1] == weekday - 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    labels = []
    for run in runs:
        if len(run) >= 3:
            labels.append(f"{names[run[0]]}至{names[run[-1]]}" if zh else f"{names[run[0]]}–{names[run[-1]]}")
        else:
            labels.extend(names[d] for d in run)
    return ("、" if zh else ", ").join(labels)


def describe_opening(opening: datetime, now: datetime, locale: str = "zh") -> str:
    """An instant relative to now, both already in the account's zone.

    "今天 13:30", "明天 09:00", "10月8日（周四）09:00", "2027年1月4日（周一）09:00";
    "today at 13:30", "tomorrow at 09:00", "Thu 8 Oct at 09:00", "Mon 4 Jan 2027 at 09:00".
    """
    zh = _is_zh(locale)
    clock = opening.strftime("%H:%M")
    days_ahead = (opening.date() - now.date()).days
    if days_ahead == 0:
        return f"今天 {clock}" if zh else f"today at {clock}"
    if days_ahead == 1:
        return f"明天 {clock}" if zh else f"tomorrow at {clock}"
    day = opening.date()
    if zh:
        year = f"{day.year}年" if day.year != now.year else ""
        return f"{year}{day.month}月{day.day}日（{_ZH_DAYS[day.weekday()]}）{clock}"
    year = f" {day.year}" if day.year != now.year else ""
    return f"{_EN_DAYS[day.weekday()]} {day.day} {_EN_MONTHS[day.month - 1]}{year} at {clock}"
