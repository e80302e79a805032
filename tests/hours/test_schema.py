"""Period parsing and the `hours:` settings model: what is accepted, what is refused and why."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from kefu.hours import HoursSettings, Period, TimeZoneName

# The `hours:` section of the shared config-example.yaml, verbatim.
CONFIG_EXAMPLE_HOURS = """
weekly:                           # periods per weekday; [] = closed all day; "00:00-24:00" = all day
  mon: ["09:00-12:00", "13:30-18:00"]
  tue: ["09:00-12:00", "13:30-18:00"]
  wed: ["09:00-12:00", "13:30-18:00"]
  thu: ["09:00-12:00", "13:30-18:00"]
  fri: ["09:00-12:00", "13:30-18:00"]
  sat: []
  sun: []
statutory_holidays: true          # follow 法定节假日 and 调休
adjusted_workday: ["09:00-12:00", "13:30-18:00"]   # periods on a 调休 working weekend day
closed_dates: []                  # e.g. [2026-12-31]
extra_working_dates: []
off_hours_message:                # 非接待时间提示语
  mode: ai                        # ai | fixed | none
  text: 现在是非人工接待时间（工作日 9:00-18:00），您可以先留言，我们上班后第一时间回复。
wait_for_opening: true            # route off-hours requests when the next period starts
"""


@pytest.mark.parametrize(
    ("text", "start", "end", "shown"),
    [
        ("09:00-18:00", 540, 1080, "09:00-18:00"),
        ("9:00-12:30", 540, 750, "09:00-12:30"),
        ("00:00-24:00", 0, 1440, "00:00-24:00"),
        ("22:00-24:00", 1320, 1440, "22:00-24:00"),
        (" 13:30 - 18:00 ", 810, 1080, "13:30-18:00"),
        ("０９：００～１８：００", 540, 1080, "09:00-18:00"),  # full-width, as typed with a Chinese IME
        ("09:00–18:00", 540, 1080, "09:00-18:00"),  # en dash
        ("23:59-24:00", 1439, 1440, "23:59-24:00"),
    ],
)
def test_period_parses(text: str, start: int, end: int, shown: str) -> None:
    period = Period.parse(text)
    assert (period.start, period.end, str(period)) == (start, end, shown)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "22:00-02:00",
            "22:00-02:00: the end is before the start; split it at midnight: "
            "22:00-24:00 on this day and 00:00-02:00 on the next",
        ),
        (
            "18:00-18:00",
            "18:00-18:00: the end equals the start; split it at midnight: "
            "18:00-24:00 on this day and 00:00-18:00 on the next",
        ),
        ("22:00-00:00", "22:00-00:00: a period that runs to midnight ends at 24:00; write 22:00-24:00"),
        ("00:00-00:00", "00:00-00:00: the period is empty; write 00:00-24:00 for all day"),
        ("25:00-26:00", "25:00-26:00: hours go from 00 to 23 (24:00 may end a period)"),
        ("09:60-10:00", "09:60-10:00: minutes go from 00 to 59"),
        ("24:00-24:00", "24:00-24:00: 24:00 can only end a period"),
        ("09:00-24:30", "09:00-24:30: hours go from 00 to 23"),
        ("9-18", "'9-18': a period is written HH:MM-HH:MM, e.g. 09:00-18:00"),
        ("09:00", "'09:00': a period is written HH:MM-HH:MM"),
        ("", "a period is written HH:MM-HH:MM"),
    ],
)
def test_period_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Period.parse(text)
    assert message in str(caught.value)


def test_period_contains_is_half_open() -> None:
    period = Period.parse("09:00-18:00")
    assert period.start_time.isoformat() == "09:00:00"
    assert period.end_time is not None and period.end_time.isoformat() == "18:00:00"
    assert Period.parse("00:00-24:00").end_time is None
    assert Period.parse("00:00-24:00").is_all_day
    assert not period.is_all_day


def test_config_example_hours_section_loads_and_round_trips() -> None:
    raw = yaml.safe_load(CONFIG_EXAMPLE_HOURS)
    settings = HoursSettings.model_validate(raw)
    assert [str(p) for p in settings.weekly.mon] == ["09:00-12:00", "13:30-18:00"]
    assert settings.weekly.sat == []
    assert settings.statutory_holidays is True
    assert settings.off_hours_message.mode == "ai"
    assert settings.wait_for_opening is True
    dumped = settings.model_dump(mode="json")
    # Exactly the keys of the example file, so export → apply is the identity.
    assert set(dumped) == set(raw)
    assert dumped == raw
    assert HoursSettings.model_validate(dumped) == settings


def test_defaults() -> None:
    settings = HoursSettings()
    assert [str(p) for p in settings.weekly.fri] == ["09:00-18:00"]
    assert settings.weekly.sat == [] and settings.weekly.sun == []
    assert settings.statutory_holidays is True
    assert settings.adjusted_workday is None
    assert settings.workday_periods == settings.weekly.mon
    assert settings.off_hours_message.mode == "fixed" and settings.off_hours_message.text
    assert settings.wait_for_opening is True
    # A weekly schedule that names some days leaves the others closed.
    partial = HoursSettings.model_validate({"weekly": {"sat": ["10:00-16:00"]}})
    assert partial.weekly.mon == [] and [str(p) for p in partial.weekly.sat] == ["10:00-16:00"]


def test_adjusted_workday_defaults_to_monday_but_can_be_set() -> None:
    weekly = {"mon": ["08:00-20:00"], "tue": ["09:00-18:00"]}
    assert [str(p) for p in HoursSettings.model_validate({"weekly": weekly}).workday_periods] == [
        "08:00-20:00"
    ]
    explicit = HoursSettings.model_validate({"weekly": weekly, "adjusted_workday": ["10:00-15:00"]})
    assert [str(p) for p in explicit.workday_periods] == ["10:00-15:00"]
    closed = HoursSettings.model_validate({"weekly": weekly, "adjusted_workday": []})
    assert closed.workday_periods == []


def test_periods_are_sorted_and_touching_ones_allowed() -> None:
    settings = HoursSettings.model_validate(
        {"weekly": {"mon": ["13:30-18:00", "09:00-12:00", "12:00-13:30"]}}
    )
    assert [str(p) for p in settings.weekly.mon] == ["09:00-12:00", "12:00-13:30", "13:30-18:00"]


def _errors(data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        HoursSettings.model_validate(data)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        (
            {"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}},
            ("weekly", "mon"),
            "09:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            {"weekly": {"fri": ["22:00-02:00"]}},
            ("weekly", "fri", 0),
            "22:00-02:00: the end is before the start; split it at midnight: "
            "22:00-24:00 on this day and 00:00-02:00 on the next",
        ),
        ({"weekly": {"tue": ["09:00-25:00"]}}, ("weekly", "tue", 0), "hours go from 00 to 23"),
        ({"weekly": {"mon": "09:00-18:00"}}, ("weekly", "mon"), "valid list"),
        ({"weekly": {"monday": ["09:00-18:00"]}}, ("weekly", "monday"), "Extra inputs are not permitted"),
        ({"adjusted_workday": ["08:00-12:00", "10:00-14:00"]}, ("adjusted_workday",), "overlap"),
        ({"closed_dates": ["2026-13-01"]}, ("closed_dates", 0), "month"),
        ({"off_hours_message": {"mode": "loud"}}, ("off_hours_message", "mode"), "'ai', 'fixed' or 'none'"),
        ({"off_hours_message": {"mode": "fixed", "text": " "}}, ("off_hours_message",), "needs a text"),
        ({"timezone": "Asia/Shanghai"}, ("timezone",), "Extra inputs are not permitted"),
    ],
)
def test_settings_refused_with_a_clear_message(data: dict, loc: tuple, message: str) -> None:
    errors = _errors(data)
    assert any(err_loc == loc and message in msg for err_loc, msg in errors), errors


def test_dates_accept_yaml_dates_and_text() -> None:
    settings = HoursSettings.model_validate(
        yaml.safe_load("closed_dates: [2026-12-31]\nextra_working_dates: ['2026-10-11']\n")
    )
    assert settings.closed_dates == [date(2026, 12, 31)]
    assert settings.extra_working_dates == [date(2026, 10, 11)]
    assert settings.model_dump(mode="json")["closed_dates"] == ["2026-12-31"]


def test_none_mode_needs_no_text() -> None:
    settings = HoursSettings.model_validate({"off_hours_message": {"mode": "none", "text": ""}})
    assert settings.off_hours_message.mode == "none"


class _Account(BaseModel):
    timezone: TimeZoneName = "Asia/Shanghai"


@pytest.mark.parametrize("name", ["Asia/Shanghai", "Europe/Berlin", "UTC", "America/New_York"])
def test_timezone_name_accepts_iana_names(name: str) -> None:
    assert _Account(timezone=name).timezone == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Beijing"])
def test_timezone_name_refuses_unknown_zones(name: str) -> None:
    with pytest.raises(ValidationError, match="not a known time zone"):
        _Account(timezone=name)


def test_json_schema_shows_periods_as_text() -> None:
    schema = HoursSettings.model_json_schema()
    mon = schema["$defs"]["WeeklySchedule"]["properties"]["mon"]
    assert mon["items"]["type"] == "string"
