"""Reception periods: "HH:MM-HH:MM" within one local day, end may be 24:00.

A period is half-open: open from its start (inclusive) to its end (exclusive), in
wall-clock minutes of the account's time zone. A period never crosses midnight;
one that would is refused with a hint to split it over two days. A refused text raises a
PydanticCustomError (a ValueError): a code the console words, and the English reason.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import time
from typing import Any

from pydantic_core import PydanticCustomError

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
        given = {"quoted": repr(text), "period": str(text)}  # `quoted` for the English reason
        if not isinstance(text, str):
            raise PydanticCustomError(
                "period_not_text", "{quoted}: a period is a text like 09:00-18:00", given
            )
        normalized = unicodedata.normalize("NFKC", text)
        match = _PERIOD_RE.match(normalized)
        if match is None:
            raise PydanticCustomError(
                "period_format", "{quoted}: a period is written HH:MM-HH:MM, e.g. 09:00-18:00", given
            )
        start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
        shown = f"{start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"
        start = _to_minute(start_h, start_m, shown, is_end=False)
        end = _to_minute(end_h, end_m, shown, is_end=True)
        if end <= start:
            raise _backwards(shown, start, end)
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
        raise PydanticCustomError("period_minutes", "{period}: minutes go from 00 to 59", {"period": shown})
    if hour == 24 and minute == 0:
        if not is_end:
            raise PydanticCustomError(
                "period_starts_at_24",
                "{period}: 24:00 can only end a period; a period from midnight starts at 00:00",
                {"period": shown},
            )
        return MINUTES_PER_DAY
    if hour > 23:
        raise PydanticCustomError(
            "period_hours", "{period}: hours go from 00 to 23 (24:00 may end a period)", {"period": shown}
        )
    return hour * 60 + minute


def _backwards(shown: str, start: int, end: int) -> PydanticCustomError:
    values = {"period": shown, "start": format_minute(start), "end": format_minute(end)}
    if end == 0:
        if start == 0:
            return PydanticCustomError(
                "period_empty", "{period}: the period is empty; write 00:00-24:00 for all day", values
            )
        return PydanticCustomError(
            "period_to_midnight",
            "{period}: a period that runs to midnight ends at 24:00; write {start}-24:00",
            values,
        )
    split = "split it at midnight: {start}-24:00 on this day and 00:00-{end} on the next"
    if end == start:
        return PydanticCustomError(
            "period_end_is_start", "{period}: the end equals the start; " + split, values
        )
    return PydanticCustomError("period_backwards", "{period}: the end is before the start; " + split, values)


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
            raise PydanticCustomError(
                "periods_overlap",
                "{earlier} and {later} overlap; merge them or move one",
                {"earlier": str(earlier), "later": str(later)},
            )
    return ordered
