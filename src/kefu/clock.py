"""The one clock Kefu reads. Tests and demos move it; nothing in Kefu calls datetime.now()."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock, optionally started at a chosen instant or shifted by an offset."""

    def __init__(self, *, start: datetime | None = None, offset_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._origin_real = time.time()
        if start is not None:
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            offset_s += start.timestamp() - self._origin_real
        self._offset = offset_s
        self._frozen: float | None = None

    def timestamp(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def set(self, when: datetime) -> None:
        """Jump to `when`; time keeps flowing from there (or stays, if frozen)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            if self._frozen is not None:
                self._frozen = when.timestamp()
            else:
                self._offset = when.timestamp() - time.time()

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def freeze(self) -> None:
        with self._lock:
            self._frozen = time.time() + self._offset

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None


def clock_from_settings(settings) -> Clock:  # type: ignore[no-untyped-def]
    return Clock(start=settings.clock_start, offset_s=settings.clock_offset)
