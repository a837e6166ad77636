"""Line charts as geometry for the one inline SVG macro (templates/chart.html): numbers only,
names stay text.

The one chart path of every HTML page: the dashboard's daily trends (`daily_chart`) and the
weekly report's week-by-week lines (`weekly_chart`) are both a `line_chart`, drawn by the
same macro. Nothing here builds markup, so the names of teams and domains reach the page only
as template expressions, escaped like every other string (mailops.report.html).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
MAX_LINES = 8
MAX_WEEK_LABELS = 12  # "W47" labels that fit side by side under the plot
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#4b5563")

Points = Sequence[tuple[float, float]]  # (x, value), x in the chart's own unit


@dataclass(frozen=True)
class Line:
    """One subject's line: its name (text from an API, escaped by the template), its colour,
    its points in SVG coordinates and its last value."""

    name: str
    color: str
    coordinates: tuple[tuple[float, float], ...]
    last: float | None

    @property
    def points(self) -> str:
        """The coordinates as `<polyline points>` wants them: "x,y x,y ..."."""
        return " ".join(f"{x},{y}" for x, y in self.coordinates)


@dataclass
class Chart:
    """One metric over the range, one line per subject (the first few asked for)."""

    title: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    hidden: int = 0  # subjects left out (more than the chart's lines)
    markers: bool = False  # a dot on every point (a few weekly points); a lone point has one
    plot: tuple[int, int, int, int] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


def _label(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def line_chart(
    title: str,
    series: Sequence[tuple[str, Points]],
    x_range: tuple[float, float],
    x_ticks: Sequence[tuple[float, str]],
    *,
    max_lines: int = MAX_LINES,
    markers: bool = False,
) -> Chart:
    """Chart the first `max_lines` of `series` (name, points), in the order given; x from
    `x_range[0]` to `x_range[1]`, labelled at `x_ticks` (x, label). Series without points
    are left out; the y axis starts at 0 or below."""
    chart = Chart(title, markers=markers)
    drawn = [(name, points) for name, points in series if points]
    chart.hidden = max(len(drawn) - max_lines, 0)
    drawn = drawn[:max_lines]
    values = [v for _, points in drawn for _, v in points]
    top = max(values, default=1.0)
    low = min(min(values, default=0.0), 0.0)
    if top <= low:
        top = low + 1.0
    x0, y0, x1, y1 = chart.plot
    first, last = x_range
    span = max(last - first, 1)

    def x_of(x: float) -> float:
        return round(x0 + (x1 - x0) * (x - first) / span, 1)

    def y_of(value: float) -> float:
        return round(y1 - (y1 - y0) * (value - low) / (top - low), 1)

    for index, (name, points) in enumerate(drawn):
        chart.lines.append(Line(
            name, PALETTE[index % len(PALETTE)],
            tuple((x_of(x), y_of(v)) for x, v in points), points[-1][1],
        ))
    chart.y_ticks = [(y_of(low + (top - low) * i / 4), _label(low + (top - low) * i / 4))
                     for i in range(5)]
    chart.x_ticks = [(x_of(x), label) for x, label in x_ticks]
    return chart


def daily_chart(
    title: str, series: Sequence[tuple[str, Sequence[tuple[date, float | None]]]],
    start: date, end: date,
) -> Chart:
    """The subjects with the largest means, days on x from start to end (a missing value is
    a gap in the data, not a zero)."""
    known = [(name, [(float((day - start).days), v) for day, v in points if v is not None])
             for name, points in series]
    known = [(name, points) for name, points in known if points]
    known.sort(key=lambda item: (-sum(v for _, v in item[1]) / len(item[1]), item[0]))
    span = max((end - start).days, 1)
    step = max(span // 6, 1)
    ticks = [(float(d), f"{start + timedelta(days=d):%m-%d}") for d in range(0, span + 1, step)]
    return line_chart(title, known, (0.0, float(span)), ticks)


def weekly_chart(
    title: str, series: Sequence[tuple[str, Sequence[tuple[str, float]]]], max_lines: int
) -> Chart:
    """The first `max_lines` subjects as given, one point a week (weeks named `YYYY-Www`,
    in order on x, at most MAX_WEEK_LABELS of them labelled `Www`: the page names the year,
    and the full name would run off the plot's right edge), each point marked."""
    weeks = sorted({week for _, points in series for week, _ in points})
    index = {week: float(position) for position, week in enumerate(weeks)}
    placed = [(name, sorted((index[week], v) for week, v in points)) for name, points in series]
    step = -(-len(weeks) // MAX_WEEK_LABELS)  # ceiling: a year of weeks stays readable
    return line_chart(title, placed, (0.0, float(max(len(weeks) - 1, 1))),
                      [(index[week], week[5:]) for week in weeks[::max(step, 1)]],
                      max_lines=max_lines, markers=True)
