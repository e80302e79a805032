"""Properties of any calendar, in zones with and without DST, across the end of the holiday data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.hours import HoursSettings, ReceptionCalendar

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Instants from two months before the end of 2026 to the spring of 2027: holidays, the end of
# the holiday data, and the autumn and spring DST changes of the zones above.
START = datetime(2026, 9, 1, tzinfo=UTC)
SPAN_S = int(timedelta(days=220).total_seconds())
_TICK = timedelta(microseconds=1)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def day_periods(draw: st.DrawFn, last_slot: int = 96) -> list[str]:
    """0–3 non-overlapping periods on a quarter-hour grid up to `last_slot`, touching ones included."""
    count = draw(st.integers(0, 3))
    bounds = sorted(draw(st.lists(st.integers(0, last_slot), min_size=2 * count, max_size=2 * count)))
    pairs = zip(bounds[::2], bounds[1::2], strict=True)
    return [f"{_hhmm(s * 15)}-{_hhmm(e * 15)}" for s, e in pairs if s < e]


dates = st.dates(date(2026, 9, 1), date(2027, 4, 30))


@st.composite
def calendars(draw: st.DrawFn) -> ReceptionCalendar:
    data = {
        "weekly": {day: draw(day_periods()) for day in DAYS},
        "statutory_holidays": draw(st.booleans()),
        "adjusted_workday": draw(st.none() | day_periods()),
        "closed_dates": draw(st.lists(dates, max_size=4)),
        "extra_working_dates": draw(st.lists(dates, max_size=4)),
    }
    return ReceptionCalendar(HoursSettings.model_validate(data), draw(st.sampled_from(ZONES)))


def _dst_changes() -> list[tuple[str, datetime]]:
    """(zone, hour) for each hour in the span when one of ZONES changes its UTC offset."""
    changes = []
    for name in ZONES:
        zone = ZoneInfo(name)
        for hour in range(SPAN_S // 3600):
            moment = START + timedelta(hours=hour)
            if (
                moment.astimezone(zone).utcoffset()
                != (moment + timedelta(hours=1)).astimezone(zone).utcoffset()
            ):
                changes.append((name, moment))
    return changes


DST_CHANGES = _dst_changes()


def test_the_span_holds_dst_changes() -> None:
    assert len(DST_CHANGES) == 6  # two for each zone with DST: Berlin, New York, Lord Howe


@st.composite
def dst_cases(draw: st.DrawFn) -> tuple[ReceptionCalendar, datetime]:
    """A zone's DST change, periods in the small hours when clocks move, an instant near it."""
    name, change = draw(st.sampled_from(DST_CHANGES))
    small_hours = day_periods(last_slot=20)  # boundaries between 00:00 and 05:00
    weekly = {day: draw(small_hours) for day in DAYS}
    settings = HoursSettings.model_validate({"weekly": weekly, "statutory_holidays": False})
    at = change + timedelta(seconds=draw(st.integers(-30 * 3600, 6 * 3600)))
    return ReceptionCalendar(settings, name), at


instants = st.integers(0, SPAN_S).map(lambda s: START + timedelta(seconds=s))
# Any calendar at any instant, or one built around a DST change (uniform draws rarely meet one).
cases = st.tuples(calendars(), instants) | dst_cases()
fractions = st.floats(0, 1, exclude_max=True)


@settings(max_examples=100, deadline=None)
@given(cases, st.integers(0, 59_999_999))
def test_is_open_means_now_lies_in_a_period_of_its_local_date(
    case: tuple[ReceptionCalendar, datetime], micros: int
) -> None:
    cal, now = case
    now += timedelta(microseconds=micros)
    wall = now.astimezone(cal.tz)
    minute = wall.hour * 60 + wall.minute
    inside = any(p.start <= minute < p.end for p in cal.periods_on(wall.date()))
    assert cal.is_open(now) is inside


# Periods sit on a quarter-hour grid and every zone above is offset from UTC by whole quarter
# hours, so is_open is constant on each UTC quarter hour: scanning the grid is a brute-force oracle.
GRID = timedelta(minutes=15)
SCAN = timedelta(days=3)


def _grid_after(moment: datetime) -> datetime:
    """The first grid point strictly after `moment`."""
    seconds = int((moment - START).total_seconds() // GRID.total_seconds()) + 1
    return START + seconds * GRID


def _first_grid_point(cal: ReceptionCalendar, after: datetime, *, open_: bool) -> datetime | None:
    point = _grid_after(after)
    while point <= after + SCAN:
        if cal.is_open(point) is open_:
            return point
        point += GRID
    return None


@settings(max_examples=100, deadline=None)
@given(cases, fractions)
def test_next_opening_is_open_and_nothing_before_it_is(
    case: tuple[ReceptionCalendar, datetime], fraction: float
) -> None:
    cal, at = case
    opening = cal.next_opening(at)
    if cal.is_open(at):
        assert opening == at
        return
    expected = _first_grid_point(cal, at, open_=True)
    if expected is not None:
        assert opening == expected
    else:
        assert opening is None or opening > at + SCAN
    if opening is None:
        assert not cal.is_open(at + timedelta(days=400) * fraction)
        return
    assert cal.is_open(opening)
    assert not cal.is_open(opening - _TICK)
    between = at + (opening - at) * fraction
    assert between >= opening or not cal.is_open(between)


@settings(max_examples=100, deadline=None)
@given(cases, fractions)
def test_current_period_end_closes_and_everything_before_it_is_open(
    case: tuple[ReceptionCalendar, datetime], fraction: float
) -> None:
    cal, now = case
    end = cal.current_period_end(now)
    if not cal.is_open(now):
        assert end is None
        return
    expected = _first_grid_point(cal, now, open_=False)
    if expected is not None:
        assert end == expected
    else:
        assert end is None or end > now + SCAN
    if end is None:  # open through the whole search horizon
        assert cal.is_open(now + timedelta(days=399) * fraction)
        return
    assert not cal.is_open(end)
    assert cal.is_open(end - _TICK)
    between = now + (end - now) * fraction
    assert between >= end or cal.is_open(between)
    # Where an open stretch ends, the calendar next opens strictly later.
    reopening = cal.next_opening(end)
    assert reopening is None or reopening > end


@settings(max_examples=100, deadline=None)
@given(cases)
def test_walking_openings_and_closings_matches_the_grid(case: tuple[ReceptionCalendar, datetime]) -> None:
    """Alternate current_period_end and next_opening for three days; each step is the grid's next flip."""
    cal, moment = case
    horizon = moment + SCAN
    while moment < horizon:
        if cal.is_open(moment):
            step = cal.current_period_end(moment)
            expected = _first_grid_point(cal, moment, open_=False)
        else:
            step = cal.next_opening(moment)
            expected = _first_grid_point(cal, moment, open_=True)
        if expected is None or expected > horizon:
            assert step is None or step > min(horizon, moment + SCAN)
            return
        assert step == expected
        moment = step
