"""Bar charts for the reports page, drawn on the server as inline SVG (no chart library, nothing
from a CDN): this module only places the bars; templates/reports_chart.html draws them."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 640, 200
TOP, BOTTOM, LEFT = 16, 28, 8  # room for the values above and the labels below


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    show_label: bool  # many bars: every n-th label only, so they do not overlap


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> int:
        return self.height - BOTTOM

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def bar_chart(title: str, points: list[tuple[str, int]]) -> Chart:
    """Bars scaled to the largest value (an all-zero chart keeps flat bars)."""
    if not points:
        return Chart(title, [])
    top = max(value for _, value in points) or 1
    slot = (WIDTH - 2 * LEFT) / len(points)
    room = HEIGHT - TOP - BOTTOM
    every = max(1, round(len(points) / 12))
    bars = []
    for index, (label, value) in enumerate(points):
        height = room * value / top
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.15, 1),
                y=round(HEIGHT - BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label=label,
                value=value,
                show_label=index % every == 0,
            )
        )
    return Chart(title, bars)
