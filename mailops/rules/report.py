"""Which of the weekly report's metrics may drift or move: pure decisions, no I/O.

A month-to-date counter grows every day until the monthly freeze resets it, so four
rising weeks say only that the month went on: drifts and top movers are computed over the
daily figures, and a month-to-date counter is shown week over week labelled as one.
"""

from __future__ import annotations

# Seed 002 (EmBoux, GET /domains/{name}/outbound): `outbound_sent_month` is "Emails sent
# this month", `bounce_count` "Bounces this period", `complaint_count` "Complaints this
# period"; POST /outbound/reset-monthly freezes them and resets them to 0. Unlike
# `outbound_sent_today`, which reset-daily zeroes each day, they are month-to-date.
MONTH_TO_DATE_METRICS = frozenset({"outbound_sent_month", "bounce_count", "complaint_count"})


def is_month_to_date(metric: str) -> bool:
    """Whether `metric` counts from the start of the month (seed 002's monthly counters)."""
    return metric in MONTH_TO_DATE_METRICS


def can_drift(metric: str, settings_metrics: frozenset[str] = frozenset()) -> bool:
    """Whether a week-on-week move of `metric` is behaviour: a daily figure, neither a
    month-to-date counter nor a setting among `settings_metrics`."""
    return not is_month_to_date(metric) and metric not in settings_metrics
