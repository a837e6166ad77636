"""The weekly report's decisions, pure and without I/O: which metrics may drift or move,
and what a week without trend data means.

A month-to-date counter grows every day until the monthly freeze resets it, so four
rising weeks say only that the month went on: drifts and top movers are computed over the
daily figures, and a month-to-date counter is shown week over week labelled as one.

A week without data before the store's first day (a fresh install) is not enough data
yet, an answer and not a failure: the run completes and says when the first report will
be. A week without data after it means daily-health collected nothing that week (or a
team named by the report has no rows): that is a failure someone should look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# EmBoux, GET /domains/{name}/outbound (docs/emboux-api.md#outbound-counters):
# `outbound_sent_month` is "Emails sent this month", `bounce_count` "Bounces this period",
# `complaint_count` "Complaints this period"; POST /outbound/reset-monthly freezes them and
# resets them to 0. Unlike `outbound_sent_today`, which reset-daily zeroes each day, they are
# month-to-date.
MONTH_TO_DATE_METRICS = frozenset({"outbound_sent_month", "bounce_count", "complaint_count"})


def is_month_to_date(metric: str) -> bool:
    """Whether `metric` counts from the start of the month (EmBoux's monthly counters,
    docs/emboux-api.md#outbound-counters)."""
    return metric in MONTH_TO_DATE_METRICS


def can_drift(metric: str, settings_metrics: frozenset[str] = frozenset()) -> bool:
    """Whether a week-on-week move of `metric` is behaviour: a daily figure, neither a
    month-to-date counter nor a setting among `settings_metrics`."""
    return not is_month_to_date(metric) and metric not in settings_metrics


@dataclass(frozen=True)
class MissingWeek:
    """What a week without trend data means: `failed`, or not enough data yet, in words."""

    failed: bool
    message: str


def week_without_data(
    week: str, monday: date, first: date | None, last: date | None, today: date,
    team: str | None = None,
) -> MissingWeek:
    """The verdict on the week of `monday` (`week`, `YYYY-Www`) holding no trend rows (of
    `team`, when the report is of one), given the first and last day the store holds (None:
    it holds none) and today's date.

    The weekly report of a week runs on the Monday after it (deployments: Mondays 09:00).
    """
    sunday = monday + timedelta(days=6)
    if first is None or sunday < first:
        start = first or today
        covers = start - timedelta(days=start.weekday())
        runs_on = covers + timedelta(days=7)
        year, number, _ = covers.isocalendar()
        first_week = f"{year}-W{number:02d}"
        held = (f"the store holds trend data from {first} (daily-health collects it)"
                if first else "the store holds no trend data yet (daily-health collects it)")
        when = (f"the first report, of {first_week}, is due on Monday {runs_on}"
                if runs_on > today else
                f"the first week with data is {first_week}")
        return MissingWeek(False, f"not enough data for {week} ({monday} to {sunday}): {held}; "
                                  f"{when}")
    if team is not None:
        return MissingWeek(True, f"no trend data for team {team!r} in {week} ({monday} to "
                                 f"{sunday}); the store holds {first} to {last}")
    return MissingWeek(True, f"no trend data in {week} ({monday} to {sunday}) although the "
                             f"store holds {first} to {last}: daily-health collected nothing "
                             "that week")
