"""Reception periods: "HH:MM-HH:MM" within one local day, end may be 24:00.

A period is half-open: open from its start (inclusive) to its end (exclusive), in
wall-clock minutes of the account's time zone. A period never crosses midnight;
one that would is refused with a hint to split it over two days.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import time
from typing import Any

MINUTES_PER_DAY = 24 * 60

# NFKC folds full-width digits and colons (０９：００) first; then an hour of one or two
# digits, a two-digit minute, and a hyphen, tilde or dash between the two ends.
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-~\u2013\u2014]\s*(\d{1,2}):(\d{2})\s*$")


def format_minute(minute: int) -> str:
    """`570` → "09:30"; `1440` → "24:00"."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, order=True)
class Period:
    """One open period of a day, in minutes after local midnight: `start` < `end` ≤ 1440."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end <= MINUTES_PER_DAY):
            raise ValueError(f"invalid period minutes {self.start}-{self.end}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse "HH:MM-HH:MM"; raise ValueError with a message an admin can act on."""
        if not isinstance(text, str):
            raise ValueError(f"{text!r}: a period is a text like 09:00-18:00")
        normalized = unicodedata.normalize("NFKC", text)
        match = _PERIOD_RE.match(normalized)
        if match is None:
            raise ValueError(f"{text!r}: a period is written HH:MM-HH:MM, e.g. 09:00-18:00")
        start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
        shown = f"{start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"
        start = _to_minute(start_h, start_m, shown, is_end=False)
        end = _to_minute(end_h, end_m, shown, is_end=True)
        if end <= start:
            raise ValueError(_backwards_message(shown, start, end))
        return cls(start, end)

    @property
    def start_time(self) -> time:
        return time(self.start // 60, self.start % 60)

    @property
    def end_time(self) -> time | None:
        """The end as a wall time; None for 24:00 (the next day's midnight)."""
        if self.end == MINUTES_PER_DAY:
            return None
        return time(self.end // 60, self.end % 60)

    @property
    def is_all_day(self) -> bool:
        return self.start == 0 and self.end == MINUTES_PER_DAY

    def contains(self, wall: time) -> bool:
        """Whether a wall time of the day lies in [start, end)."""
        minute = wall.hour * 60 + wall.minute
        if minute < self.start:
            return False
        # The end is exclusive to the minute: 18:00 is closed, 17:59:59.999999 is open.
        return minute < self.end

    def __str__(self) -> str:
        return f"{format_minute(self.start)}-{format_minute(self.end)}"


def _to_minute(hour: int, minute: int, shown: str, *, is_end: bool) -> int:
    if minute > 59:
        raise ValueError(f"{shown}: minutes go from 00 to 59")
    if hour == 24 and minute == 0:
        if not is_end:
            raise ValueError(f"{shown}: 24:00 can only end a period; a period from midnight starts at 00:00")
        return MINUTES_PER_DAY
    if hour > 23:
        raise ValueError(f"{shown}: hours go from 00 to 23 (24:00 may end a period)")
    return hour * 60 + minute


def _backwards_message(shown: str, start: int, end: int) -> str:
    start_s, end_s = format_minute(start), format_minute(end)
    if end == 0:
        if start == 0:
            return f"{shown}: the period is empty; write 00:00-24:00 for all day"
        return f"{shown}: a period that runs to midnight ends at 24:00; write {start_s}-24:00"
    if end == start:
        reason = "the end equals the start"
    else:
        reason = "the end is before the start"
    return (
        f"{shown}: {reason}; split it at midnight: {start_s}-24:00 on this day and 00:00-{end_s} on the next"
    )


def coerce_period(value: Any) -> Period:
    """Pydantic validator: a Period stays, a text is parsed."""
    if isinstance(value, Period):
        return value
    return Period.parse(value)


def check_day(periods: list[Period]) -> list[Period]:
    """Refuse overlaps within one day; return the periods sorted by start.

    Touching periods (09:00-12:00 and 12:00-18:00) are allowed: they do not overlap.
    """
    ordered = sorted(periods)
    for earlier, later in itertools.pairwise(ordered):
        if later.start < earlier.end:
            raise ValueError(f"{earlier} and {later} overlap; merge them or move one")
    return ordered
