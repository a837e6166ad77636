"""The one way a figure is shown to people: in the weekly report (markdown, HTML, the
Slack digest, the results' `in_words`), its command and the dashboard.

Never e-notation; float noise around 0 (a least-squares slope of -7.1e-15) is `0`; whole
numbers with thousands separators; others with the digits that mean something: 1 decimal
from 1,000 up, 2 decimals from 1 up (rates and percentages), 2 significant digits below 1.
"""

from __future__ import annotations

import math

# Closer to 0 than this is float noise, shown as 0.
EPSILON = 1e-9
MISSING = "-"


def number(value: float | None, missing: str = MISSING) -> str:
    """`value` for people: `20,060`, `1,234,567.9`, `12.35`, `0.50`, `0.00012`, `0`;
    `missing` for None or NaN."""
    if value is None or math.isnan(value):
        return missing
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) < EPSILON:
        return "0"
    if abs(value - round(value)) <= EPSILON * max(1.0, abs(value)):
        return f"{round(value):,}"
    return f"{value:,.{_decimals(abs(value))}f}"


def signed(value: float | None, missing: str = MISSING) -> str:
    """`number` with its sign, `+20,060` or `-0.50`; zero is `0`, never `+0` or `-0`."""
    text = number(value, missing)
    if value is None or text in (missing, "0") or text.startswith("-"):
        return text
    return f"+{text}"


def _decimals(size: float) -> int:
    if size >= 1000:
        return 1
    if size >= 1:
        return 2
    # below 1: two significant digits (0.5 -> 0.50, 0.000123 -> 0.00012)
    return max(2, 1 - math.floor(math.log10(size)))
