"""The weekly report's computations: week over week, gradual drifts, forecasts, movers.

Pure functions of pandas DataFrames (the trend tables' rows, the alerts and the audit log of
the weeks needed) returning plain dataclasses; loading is `mailops.store.reports`, showing is
`mailops.report.render_weekly` and the Slack digest. Names in the results (teams, domains,
alert subjects, contact emails) came from APIs: whoever shows them escapes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mailops import jobs
from mailops.errors import MailopsError
from mailops.jsonable import FLATTEN
from mailops.report.numbers import number, signed
from mailops.rules.alerts import Alert, Severity
from mailops.rules.report import can_drift
from mailops.settings import ReportSettings

JOB = jobs.WEEKLY_REPORT

# How a week of daily rows becomes one value: counters of a day are summed, levels averaged,
# the week's quota counter taken at its peak, limits and month counters at their last value.
TEAM_METRICS: dict[str, str] = {
    "weekly_used": "max",
    "usage_pct": "max",
    "weekly_limit": "last",
    "aliases_used": "last",
    "aliases_limit": "last",
    "mailboxes_used": "last",
    "mailboxes_limit": "last",
    "quarantine_backlog": "mean",
    "failed_24h": "sum",
    "denied_24h": "sum",
}
DOMAIN_METRICS: dict[str, str] = {
    "outbound_sent_today": "sum",
    "bounce_rate": "mean",
    "complaint_rate": "mean",
    "outbound_sent_month": "last",
    "bounce_count": "last",
    "complaint_count": "last",
    "outbound_daily_limit": "last",
    "outbound_monthly_limit": "last",
    "spike_max_multiplier": "last",
}
# Configuration rather than behaviour: shown week over week, never a drift or a mover.
SETTINGS_METRICS = frozenset({
    "weekly_limit", "aliases_limit", "mailboxes_limit", "outbound_daily_limit",
    "outbound_monthly_limit", "spike_max_multiplier",
})
SCOPES = {"team": ("team", TEAM_METRICS), "domain": ("domain", DOMAIN_METRICS)}
CHART_METRICS = (
    ("team", "weekly_used"), ("team", "quarantine_backlog"),
    ("domain", "outbound_sent_today"), ("domain", "bounce_rate"),
)
AUDITED_KINDS = ("contact", "quarantine")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class NoReportData(MailopsError):
    """The week asked for has no trend rows at all."""


@dataclass(frozen=True)
class EmptyWeek:
    """A week with no trend rows (of the team asked for), and the days the store holds
    (None: it holds none): what `week_without_data` decides on."""

    week: str
    team: str | None
    first: date | None
    last: date | None


# --- weeks -------------------------------------------------------------------------------


def parse_week(text: str) -> tuple[date, date]:
    """`YYYY-Www` to the week's Monday and Sunday; ValueError in words when it is not one."""
    match = _WEEK.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an ISO week such as 2026-W47")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValueError(f"{text!r} is not a week of that year") from None
    return monday, monday + timedelta(days=6)


def week_name(day: date) -> str:
    """The ISO week holding `day`, as `YYYY-Www`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(now: datetime, zone: ZoneInfo) -> str:
    """The ISO week before the one `now` falls in, in the operator's time zone."""
    today = now.astimezone(zone).date()
    return week_name(today - timedelta(days=today.weekday() + 7))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _OfMetric:
    """What a weekly figure is of: one metric of one team or domain (the first fields of
    changes, drifts and chart points alike)."""

    scope: str  # "team" or "domain"
    subject: str
    metric: str


@dataclass(frozen=True)
class MetricChange(_OfMetric):
    """One metric of one team or domain, this week against last week."""

    JSON_EXTRAS = ("in_words",)

    how: str  # sum, mean, max or last: how the week's days became one value
    this_week: float | None
    last_week: float | None
    change: float | None
    change_pct: float | None
    note: str  # the change in words where a number cannot say it

    def in_words(self) -> str:
        """`+25% (+5)`, or the note ("new this week", "no data last week", ...)."""
        if self.note:
            return self.note
        if self.change_pct is None or self.change is None:
            return "unchanged"
        return f"{signed(self.change_pct)}% ({signed(self.change)})"


@dataclass(frozen=True)
class Drift(_OfMetric):
    """A metric that moved the same way in each of the last `weeks` weeks."""

    JSON_EXTRAS = ("in_words",)

    direction: str  # "up" or "down"
    weeks: int  # consecutive weekly moves
    start_value: float
    end_value: float
    slope_per_week: float  # least squares over the run's weekly values
    slope_pct: float | None  # the slope as a share of the start value

    def in_words(self) -> str:
        pct = "" if self.slope_pct is None else f", {signed(self.slope_pct)}% of its start a week"
        return (
            f"{self.direction} {self.weeks} weeks in a row: {number(self.start_value)} -> "
            f"{number(self.end_value)}, {signed(self.slope_per_week)} a week{pct}"
        )


@dataclass(frozen=True)
class Forecast:
    """When, at its current trend, a metric crosses a threshold (None: already crossed)."""

    JSON_EXTRAS = ("in_words",)

    scope: str
    subject: str
    key: str  # weekly_quota, daily_limit, bounce_rate, complaint_rate
    label: str
    current: float
    threshold: float
    slope_per_day: float
    days: int | None
    volume: float
    level: float  # the fitted trend's value on the last day, which the crossing is counted from

    def in_words(self) -> str:
        if self.days is None:
            return "already crossed"
        return f"in about {self.days} day{'s' if self.days != 1 else ''}"


@dataclass(frozen=True)
class AlertKind:
    """The alerts of one kind raised during the week."""

    key: str
    severity: str  # the worst seen
    count: int
    subjects: int
    jobs: str


@dataclass(frozen=True)
class ActionSummary:
    """Contact or quarantine changes of the week, counted by job and change."""

    kind: str  # contact or quarantine
    job: str
    field: str
    change: str  # "unset -> blocked"
    count: int


@dataclass(frozen=True)
class ActionSample:
    kind: str
    job: str
    label: str
    change: str
    reason: str
    changed_at: str


@dataclass(frozen=True)
class SeriesPoint(_OfMetric):
    """One weekly value of a charted metric."""

    week: str
    value: float


@dataclass
class WeeklyReport:
    """Everything the weekly report shows, in plain data."""

    week: str
    start: date
    end: date
    team_filter: str | None
    teams: list[str]
    domains: list[str]
    changes: list[MetricChange]
    drifts: list[Drift]
    forecasts: list[Forecast]  # crossings ahead, the nearest first
    crossed: list[Forecast]  # thresholds the subject is already past
    movers: list[MetricChange]
    alert_kinds: list[AlertKind]
    actions: list[ActionSummary]
    action_samples: list[ActionSample]
    history: list[SeriesPoint]
    alerts: list[Alert] = field(default_factory=list)

    def changes_of(self, scope: str) -> list[MetricChange]:
        return [change for change in self.changes if change.scope == scope]


@dataclass(frozen=True)
class WeeklyReportResult:
    """What one weekly-report run did: the report (None when the week had no data, then
    `no_data` says why), the file it was written to, where the Slack digest went (None: not
    sent). The flow returns it; the CLI's summary reads it, `--json` is `to_jsonable` of it
    (the report's keys at the top)."""

    week: str | None
    team_filter: str | None
    format: str
    report: WeeklyReport | None = field(default=None, metadata=FLATTEN)
    file: str | None = None
    notification: str | None = None
    no_data: str | None = None


# --- week over week ----------------------------------------------------------------------


def weekly_values(frame: pd.DataFrame, subject: str, metrics: Mapping[str, str]) -> pd.DataFrame:
    """One row per subject and ISO week (its Monday, column `week`), each metric aggregated
    as `metrics` says; empty when `frame` is."""
    present = {m: how for m, how in metrics.items() if m in frame.columns}
    if frame.empty:
        return pd.DataFrame(columns=[subject, "week", *present])
    rows = frame.sort_values("day").copy()
    rows["week"] = [_monday(_as_date(day)) for day in rows["day"]]
    return rows.groupby([subject, "week"], as_index=False).agg(present)


def week_changes(
    weekly: pd.DataFrame, scope: str, subject: str, metrics: Mapping[str, str], monday: date
) -> list[MetricChange]:
    """Each subject's metrics in the week of `monday` against the week before, the missing
    week and the division by zero said in words."""
    if weekly.empty:
        return []
    last_monday = monday - timedelta(days=7)
    first_seen = weekly.groupby(subject)["week"].min().to_dict()
    indexed = weekly.set_index([subject, "week"])
    names = sorted(
        set(weekly.loc[weekly["week"].isin([monday, last_monday]), subject]), key=str.lower
    )
    found = []
    for name in names:
        this_row = indexed.loc[(name, monday)] if (name, monday) in indexed.index else None
        last_row = (
            indexed.loc[(name, last_monday)] if (name, last_monday) in indexed.index else None
        )
        for metric, how in metrics.items():
            if metric not in indexed.columns:
                continue
            this = _number(this_row[metric]) if this_row is not None else None
            last = _number(last_row[metric]) if last_row is not None else None
            found.append(_change(scope, name, metric, how, this, last, first_seen[name], monday))
    return found


def _change(
    scope: str, name: str, metric: str, how: str, this: float | None, last: float | None,
    first_week: date, monday: date,
) -> MetricChange:
    if this is None and last is None:
        return MetricChange(scope, name, metric, how, None, None, None, None, "no data")
    if this is None:
        return MetricChange(scope, name, metric, how, None, last, None, None, "no data this week")
    if last is None:
        note = "new this week" if first_week >= monday else "no data last week"
        return MetricChange(scope, name, metric, how, this, None, None, None, note)
    change = this - last
    if last == 0:
        if change == 0:
            return MetricChange(scope, name, metric, how, this, last, 0.0, 0.0, "")
        return MetricChange(scope, name, metric, how, this, last, change, None, "new this week")
    return MetricChange(scope, name, metric, how, this, last, change, 100 * change / abs(last), "")


def top_movers(changes: Sequence[MetricChange], count: int) -> list[MetricChange]:
    """The largest percentage changes of daily behaviour (not of settings nor of
    month-to-date counters), either way."""
    movers = [
        c for c in changes
        if c.change_pct is not None and c.change and can_drift(c.metric, SETTINGS_METRICS)
    ]
    movers.sort(key=lambda c: (-abs(c.change_pct or 0), c.scope, c.subject.lower(), c.metric))
    return movers[:count]


# --- drifts ------------------------------------------------------------------------------


def drifts(
    weekly: pd.DataFrame, scope: str, subject: str, metrics: Mapping[str, str], monday: date,
    min_weeks: int,
) -> list[Drift]:
    """Daily metrics that moved the same way in each of at least `min_weeks` consecutive
    weeks ending with the week of `monday` (a missing week or a flat week ends the run;
    settings and month-to-date counters never drift)."""
    if weekly.empty:
        return []
    found = []
    for name, rows in weekly.groupby(subject):
        rows = rows.sort_values("week")
        weeks = list(rows["week"])
        if not weeks or weeks[-1] != monday:
            continue
        # the consecutive weeks ending this week
        start = len(weeks) - 1
        while start > 0 and (weeks[start] - weeks[start - 1]).days == 7:
            start -= 1
        for metric in metrics:
            if metric not in rows.columns or not can_drift(metric, SETTINGS_METRICS):
                continue
            values = [float(v) for v in rows[metric].iloc[start:]]
            drift = _drift(scope, str(name), metric, values, min_weeks)
            if drift is not None:
                found.append(drift)
    return found


def _drift(
    scope: str, name: str, metric: str, values: list[float], min_weeks: int
) -> Drift | None:
    if any(math.isnan(v) for v in values):
        return None
    moves = np.sign(np.diff(values))
    if len(moves) == 0 or moves[-1] == 0:
        return None
    run = 0
    for move in moves[::-1]:
        if move != moves[-1]:
            break
        run += 1
    if run < min_weeks:
        return None
    points = values[-(run + 1):]
    slope = float(np.polyfit(np.arange(len(points), dtype=float), points, 1)[0])
    slope_pct = 100 * slope / abs(points[0]) if points[0] else None
    return Drift(
        scope, name, metric, "up" if moves[-1] > 0 else "down", run, points[0], points[-1],
        slope, slope_pct,
    )


# --- forecasts ---------------------------------------------------------------------------


def team_forecasts(
    weekly: pd.DataFrame, monday: date, settings: ReportSettings
) -> list[Forecast]:
    """When each team's weekly peak usage, at the trend of its last weeks, reaches the quota
    (teams using less than `min_volume` a week are not forecast)."""
    found = []
    if weekly.empty:
        return found
    first = monday - timedelta(weeks=settings.forecast_weeks - 1)
    for name, rows in weekly.groupby("team"):
        rows = rows[(rows["week"] >= first) & (rows["week"] <= monday)].sort_values("week")
        if len(rows) < 2 or rows["week"].iloc[-1] != monday:
            continue
        current = float(rows["weekly_used"].iloc[-1])
        limit = float(rows["weekly_limit"].iloc[-1])
        if limit <= 0 or current < settings.min_volume:
            continue
        x = np.array([(week - monday).days / 7 for week in rows["week"]], dtype=float)
        slope, intercept = np.polyfit(x, rows["weekly_used"].astype(float).to_numpy(), 1)
        forecast = _crossing(
            "team", str(name), "weekly_quota", "weekly quota", current, float(intercept),
            limit * settings.quota_pct / 100, float(slope) / 7, current, settings,
        )
        if forecast is not None:
            found.append(forecast)
    return found


DOMAIN_FORECASTS = (
    ("daily_limit", "daily limit", "outbound_sent_today"),
    ("bounce_rate", "bounce-rate suspension", "bounce_rate"),
    ("complaint_rate", "complaint-rate suspension", "complaint_rate"),
)


def domain_forecasts(
    daily: pd.DataFrame, end: date, settings: ReportSettings
) -> list[Forecast]:
    """When each domain's daily sends reach its daily limit, and its bounce and complaint
    rates EmBoux's suspension thresholds, at the trend of its last `forecast_days` days
    (domains with fewer than `min_volume` sends in those days are not forecast)."""
    found = []
    if daily.empty:
        return found
    first = end - timedelta(days=settings.forecast_days - 1)
    rows_of = daily[[first <= _as_date(d) <= end for d in daily["day"]]]
    for name, rows in rows_of.groupby("domain"):
        rows = rows.sort_values("day")
        if len(rows) < 3:
            continue
        volume = float(rows["outbound_sent_today"].sum())
        if volume < settings.min_volume:
            continue
        x = np.array([(_as_date(d) - end).days for d in rows["day"]], dtype=float)
        daily_limit = float(rows["outbound_daily_limit"].iloc[-1])
        thresholds = {
            "daily_limit": daily_limit * settings.daily_limit_pct / 100,
            "bounce_rate": settings.bounce_rate_suspension_pct,
            "complaint_rate": settings.complaint_rate_suspension_pct,
        }
        for key, label, metric in DOMAIN_FORECASTS:
            if thresholds[key] <= 0:  # a daily limit of 0 is no limit
                continue
            y = rows[metric].astype(float).to_numpy()
            slope, intercept = np.polyfit(x, y, 1)
            forecast = _crossing(
                "domain", str(name), key, label, float(y[-1]), float(intercept),
                thresholds[key], float(slope), volume, settings,
            )
            if forecast is not None:
                found.append(forecast)
    return found


def _crossing(
    scope: str, name: str, key: str, label: str, current: float, level: float,
    threshold: float, slope_per_day: float, volume: float, settings: ReportSettings,
) -> Forecast | None:
    """The forecast when the threshold is crossed already or within the horizon."""
    if current >= threshold:
        return Forecast(scope, name, key, label, current, threshold, slope_per_day, None, volume,
                        level)
    if slope_per_day <= 1e-12:
        return None
    days = max(1, math.ceil((threshold - level) / slope_per_day - 1e-9))
    if days > settings.horizon_days:
        return None
    return Forecast(scope, name, key, label, current, threshold, slope_per_day, days, volume,
                    level)


def forecast_alerts(forecasts: Sequence[Forecast], settings: ReportSettings) -> list[Alert]:
    """An alert for each crossing ahead within `alert_within_days` (crossed ones are the
    daily-health alerts' business)."""
    found = []
    for forecast in forecasts:
        if forecast.days is None or forecast.days > settings.alert_within_days:
            continue
        found.append(Alert(
            f"forecast_{forecast.key}",
            Severity.CRITICAL if forecast.days <= 3 else Severity.WARNING,
            forecast.subject,
            f"At the current trend the {forecast.label} ({number(forecast.threshold)}) is "
            f"crossed {forecast.in_words()} (trend now {number(forecast.level)}, "
            f"{signed(forecast.slope_per_day)} a day)",
            float(forecast.days),
            float(settings.alert_within_days),
        ))
    return found


# --- alerts and actions of the week -------------------------------------------------------


def alert_kinds(alerts: pd.DataFrame) -> list[AlertKind]:
    """The week's alerts (of every job but this report) counted by kind, worst first."""
    if alerts.empty:
        return []
    rows = alerts[alerts["job"] != JOB]
    order = {"critical": 0, "warning": 1, "info": 2}
    found = []
    for key, group in rows.groupby("key"):
        worst = min(group["severity"], key=lambda s: order.get(s, 3))
        found.append(AlertKind(
            str(key), str(worst), len(group), int(group["subject"].nunique()),
            ", ".join(sorted(set(group["job"]))),
        ))
    found.sort(key=lambda k: (order.get(k.severity, 3), -k.count, k.key))
    return found


def audited_actions(
    audit: pd.DataFrame, team: str | None, samples: int = 10
) -> tuple[list[ActionSummary], list[ActionSample]]:
    """The week's contact and quarantine changes from the audit log: counts, and the first
    few (targets are `contact:<team>:<uuid>` and `quarantine:<team>:<uuid>`)."""
    if audit.empty:
        return [], []
    kinds = audit["target"].str.split(":", n=2).str[0]
    rows = audit[kinds.isin(AUDITED_KINDS)].copy()
    rows["kind"] = kinds[rows.index]
    if team is not None:
        rows = rows[rows["target"].str.split(":", n=2).str[1] == team]
    if rows.empty:
        return [], []
    rows["change"] = rows["old_value"].fillna("none") + " -> " + rows["new_value"].fillna("none")
    counted = (
        rows.groupby(["kind", "job", "field", "change"], as_index=False).size()
        .sort_values(["kind", "size", "job"], ascending=[True, False, True])
    )
    summary = [
        ActionSummary(r.kind, r.job, r.field, r.change, int(r.size))
        for r in counted.itertuples(index=False)
    ]
    first = rows.sort_values("changed_at").head(samples)
    sample = [
        ActionSample(
            r.kind, r.job, r.label if isinstance(r.label, str) and r.label else r.target,
            r.change, r.reason, pd.Timestamp(r.changed_at).isoformat(),
        )
        for r in first.itertuples(index=False)
    ]
    return summary, sample


# --- the report --------------------------------------------------------------------------


def build_report(
    week: str,
    team_rows: pd.DataFrame,
    domain_rows: pd.DataFrame,
    alerts: pd.DataFrame,
    audit: pd.DataFrame,
    settings: ReportSettings,
    *,
    team: str | None = None,
) -> WeeklyReport:
    """The weekly report of `week` (`YYYY-Www`) from the trend rows of the weeks before it
    and itself, the week's alerts and its audited changes; `team` keeps one team (and the
    domains whose partner_ref is that name). Raises NoReportData when the week has no rows."""
    monday, sunday = parse_week(week)
    if team is not None:
        team_rows = team_rows[team_rows["team"] == team] if not team_rows.empty else team_rows
        domain_rows = (
            domain_rows[domain_rows["partner_ref"] == team]
            if not domain_rows.empty else domain_rows
        )
    in_week = [
        frame for frame in (team_rows, domain_rows)
        if not frame.empty and any(monday <= _as_date(d) <= sunday for d in frame["day"])
    ]
    if not in_week:
        whom = f" for team {team!r}" if team else ""
        raise NoReportData(
            f"no trend data{whom} in {week} ({monday} to {sunday}): nothing to report"
        )
    changes: list[MetricChange] = []
    found_drifts: list[Drift] = []
    history: list[SeriesPoint] = []
    subjects: dict[str, list[str]] = {}
    weekly_of: dict[str, pd.DataFrame] = {}
    for scope, frame in (("team", team_rows), ("domain", domain_rows)):
        subject, metrics = SCOPES[scope]
        weekly = weekly_values(frame, subject, metrics)
        weekly = weekly[weekly["week"] <= monday] if not weekly.empty else weekly
        weekly_of[scope] = weekly
        changes += week_changes(weekly, scope, subject, metrics, monday)
        found_drifts += drifts(weekly, scope, subject, metrics, monday, settings.drift_min_weeks)
        history += _history(weekly, scope, subject)
        subjects[scope] = sorted(
            {c.subject for c in changes if c.scope == scope and c.this_week is not None},
            key=str.lower,
        )
    forecasts = team_forecasts(weekly_of["team"], monday, settings) + domain_forecasts(
        domain_rows, sunday, settings
    )
    forecasts.sort(key=lambda f: (f.days or 0, f.scope, f.subject.lower(), f.key))
    ahead = [f for f in forecasts if f.days is not None]
    actions, samples = audited_actions(audit, team)
    return WeeklyReport(
        week=week, start=monday, end=sunday, team_filter=team,
        teams=subjects["team"], domains=subjects["domain"],
        changes=changes, drifts=sorted(found_drifts, key=_drift_size), forecasts=ahead,
        crossed=sorted((f for f in forecasts if f.days is None), key=_past_threshold),
        movers=top_movers(changes, settings.top_movers),
        alert_kinds=alert_kinds(_alerts_of(alerts, team, set(subjects["domain"]))),
        actions=actions, action_samples=samples, history=history,
        alerts=forecast_alerts(ahead, settings),
    )


def _drift_size(d: Drift) -> tuple[float, str, str, str]:
    """The largest drifts first (as a share of their start; none last)."""
    size = -abs(d.slope_pct) if d.slope_pct is not None else 0.0
    return (size, d.scope, d.subject.lower(), d.metric)


def _past_threshold(f: Forecast) -> tuple[float, str, str, str]:
    """The furthest past its threshold first."""
    return (-(f.current / f.threshold) if f.threshold else 0.0, f.scope, f.subject.lower(),
            f.key)


def _alerts_of(alerts: pd.DataFrame, team: str | None, domains: set[str]) -> pd.DataFrame:
    """With a team filter, only the alerts about that team (or its domains)."""
    if team is None or alerts.empty:
        return alerts
    owner = alerts["subject"].str.split(" / ", n=1).str[0]
    return alerts[(owner == team) | owner.isin(domains)]


def _history(weekly: pd.DataFrame, scope: str, subject: str) -> list[SeriesPoint]:
    points = []
    if weekly.empty:
        return points
    for chart_scope, metric in CHART_METRICS:
        if chart_scope != scope or metric not in weekly.columns:
            continue
        for row in weekly[[subject, "week", metric]].itertuples(index=False):
            points.append(SeriesPoint(scope, str(row[0]), metric, week_name(row[1]),
                                      float(row[2])))
    return points


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)
