"""Line charts as geometry for an inline SVG template: numbers only, names stay text.

The template draws the polylines and labels; nothing here builds markup, so the names of
teams and domains pass through Jinja2's autoescape like every other string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
MAX_LINES = 8
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#4b5563")


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: str  # "x,y x,y ..." for <polyline points>
    last: float | None


@dataclass
class Chart:
    """One metric over the range, one line per subject (the busiest few)."""

    title: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    hidden: int = 0  # subjects left out (more than MAX_LINES)
    plot: tuple[int, int, int, int] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


def _label(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def line_chart(
    title: str, subjects: list[dict[str, Any]], metric: str, start: date, end: date
) -> Chart:
    """Chart `metric` of the subjects with the largest means, days on x from start to end."""
    chart = Chart(title)
    series = []
    for subject in subjects:
        points = [(date.fromisoformat(day), v) for day, v in subject["series"][metric]
                  if v is not None]
        if points:
            series.append((subject["name"], points))
    series.sort(key=lambda item: (-sum(v for _, v in item[1]) / len(item[1]), item[0]))
    chart.hidden = max(len(series) - MAX_LINES, 0)
    series = series[:MAX_LINES]
    values = [v for _, points in series for _, v in points]
    top = max(values, default=1.0)
    low = min(min(values, default=0.0), 0.0)
    if top <= low:
        top = low + 1.0
    x0, y0, x1, y1 = chart.plot
    span = max((end - start).days, 1)

    def x_of(day: date) -> float:
        return round(x0 + (x1 - x0) * (day - start).days / span, 1)

    def y_of(value: float) -> float:
        return round(y1 - (y1 - y0) * (value - low) / (top - low), 1)

    for index, (name, points) in enumerate(series):
        chart.lines.append(Line(
            name, PALETTE[index % len(PALETTE)],
            " ".join(f"{x_of(day)},{y_of(v)}" for day, v in points), points[-1][1],
        ))
    chart.y_ticks = [(y_of(low + (top - low) * i / 4), _label(low + (top - low) * i / 4))
                     for i in range(5)]
    step = max(span // 6, 1)
    chart.x_ticks = [(x_of(start + timedelta(days=d)), f"{start + timedelta(days=d):%m-%d}")
                     for d in range(0, span + 1, step)]
    return chart
