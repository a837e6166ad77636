"""The weekly report as markdown (files, the Prefect artifact) and as one self-contained HTML
page (templates/weekly.html) whose charts are inline SVG, so it opens without a network.

Every name in a report came from an API (teams, domains, contact emails, alert subjects): it
passes through `markdown_text` here, or reaches the HTML template as stored, where the one
HTML environment (mailops.report.html) escapes every expression, chart names included; both
show invisible characters as their markers (escape.visible).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment

from mailops.jsonable import to_jsonable
from mailops.report import html
from mailops.report.charts import Chart, weekly_chart
from mailops.report.escape import markdown_text, visible
from mailops.report.numbers import number, signed
from mailops.report.weekly import (
    CHART_METRICS,
    ActionSample,
    ActionSummary,
    AlertKind,
    Drift,
    Forecast,
    MetricChange,
    WeeklyReport,
)
from mailops.rules.report import is_month_to_date

CHART_SUBJECTS = 6  # lines per chart: the largest this week (the rest are in the tables)
METRIC_LABELS = {
    "weekly_used": "weekly usage (peak)",
    "usage_pct": "weekly usage % (peak)",
    "weekly_limit": "weekly quota",
    "aliases_used": "aliases",
    "aliases_limit": "alias limit",
    "mailboxes_used": "mailboxes",
    "mailboxes_limit": "mailbox limit",
    "quarantine_backlog": "quarantine backlog (daily mean)",
    "failed_24h": "failed messages (sum)",
    "denied_24h": "denied messages (sum)",
    "outbound_sent_today": "sends (sum)",
    "bounce_rate": "bounce rate % (daily mean)",
    "complaint_rate": "complaint rate % (daily mean)",
    "outbound_sent_month": "sends",
    "bounce_count": "bounces",
    "complaint_count": "complaints",
    "outbound_daily_limit": "daily limit",
    "outbound_monthly_limit": "monthly limit",
    "spike_max_multiplier": "spike multiplier",
}

Escape = Callable[[object], str]


def metric_label(metric: str) -> str:
    """The metric's name for people; a month-to-date counter says it is one."""
    label = METRIC_LABELS.get(metric, metric.replace("_", " "))
    return f"{label}, month to date" if is_month_to_date(metric) else label


def summary_line(report: WeeklyReport) -> str:
    """One sentence of the report's size (no API text in it)."""
    return (
        f"{len(report.teams)} teams, {len(report.domains)} domains; "
        f"{len(report.crossed)} thresholds already crossed, {len(report.forecasts)} "
        f"crossings ahead, {len(report.drifts)} gradual drifts, "
        f"{sum(k.count for k in report.alert_kinds)} alerts, "
        f"{sum(a.count for a in report.actions)} contact and quarantine actions"
    )


def _title(report: WeeklyReport) -> str:
    return f"Weekly report {report.week} ({report.start.isoformat()} to {report.end.isoformat()})"


# --- the tables, once for both formats -------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One table of the report, its cells escaped for the format by `esc` (for HTML as
    stored: the template escapes them)."""

    title: str
    header: list[str]
    rows: list[list[str]]
    per_subject: bool = False  # every team's or domain's metrics: the file's, not the artifact's


def _sections(report: WeeklyReport, esc: Escape) -> list[Table]:
    """Every table of the report; cells already escaped with `esc`."""
    return [
        Table("Already crossed", ["scope", "subject", "threshold", "last day", "trend a day"],
              [_forecast_row(f, esc)[:-1] for f in report.crossed]),
        Table("Forecasts", ["scope", "subject", "threshold", "last day", "trend a day",
                           "crossed"],
              [_forecast_row(f, esc) for f in report.forecasts]),
        Table("Gradual drifts", ["scope", "subject", "metric", "direction", "weeks", "from",
                                 "to", "slope a week"],
              [_drift_row(d, esc) for d in report.drifts]),
        Table("Top movers", ["scope", "subject", "metric", "last week", "this week", "change"],
              [[c.scope, esc(c.subject), esc(metric_label(c.metric)), number(c.last_week),
                number(c.this_week), esc(c.in_words())] for c in report.movers]),
        *(Table(f"{title}: this week against last week",
                [scope, "metric", "last week", "this week", "change"],
                [_change_row(c, esc) for c in report.changes_of(scope)], per_subject=True)
          for scope, title in (("team", "Teams"), ("domain", "Domains"))),
        Table("Alerts of the week by kind", ["alert", "worst", "count", "subjects", "raised by"],
              [_kind_row(k, esc) for k in report.alert_kinds]),
        Table("Contact and quarantine actions", ["kind", "job", "field", "change", "count"],
              [_action_row(a, esc) for a in report.actions]),
        Table("First actions of the week", ["when", "kind", "job", "who", "change", "reason"],
              [_sample_row(s, esc) for s in report.action_samples]),
    ]


def _forecast_row(f: Forecast, esc: Escape) -> list[str]:
    """The last day's figure and the trend's (the crossing is counted from the trend: a rate
    of 0 on a quiet Sunday may sit on a trend a day from the threshold)."""
    return [f.scope, esc(f.subject), esc(f.label) + f" ({number(f.threshold)})",
            f"{number(f.current)} (trend {number(f.level)})", signed(f.slope_per_day),
            esc(f.in_words())]


def _drift_row(d: Drift, esc: Escape) -> list[str]:
    pct = f" ({signed(d.slope_pct)}%)" if d.slope_pct is not None else ""
    return [d.scope, esc(d.subject), esc(metric_label(d.metric)), d.direction, str(d.weeks),
            number(d.start_value), number(d.end_value), signed(d.slope_per_week) + pct]


def _change_row(c: MetricChange, esc: Escape) -> list[str]:
    return [esc(c.subject), esc(metric_label(c.metric)), number(c.last_week),
            number(c.this_week), esc(c.in_words())]


def _kind_row(k: AlertKind, esc: Escape) -> list[str]:
    return [esc(k.key), esc(k.severity), str(k.count), str(k.subjects), esc(k.jobs)]


def _action_row(a: ActionSummary, esc: Escape) -> list[str]:
    return [esc(a.kind), esc(a.job), esc(a.field), esc(a.change), str(a.count)]


def _sample_row(s: ActionSample, esc: Escape) -> list[str]:
    return [esc(s.changed_at[:16]), esc(s.kind), esc(s.job), esc(s.label), esc(s.change),
            esc(s.reason)]


EMPTY = {
    "Already crossed": "No team or domain is past a threshold.",
    "Forecasts": "No threshold in sight at the current trends.",
    "Gradual drifts": "No metric moved the same way four weeks in a row.",
    "Top movers": "Nothing moved against last week.",
    "Alerts of the week by kind": "No alerts this week.",
    "Contact and quarantine actions": "No contact or quarantine changes this week.",
}


# --- markdown ----------------------------------------------------------------------------


def render_markdown(report: WeeklyReport) -> str:
    """The report as markdown tables; every API string escaped."""
    return _markdown(report, _sections(report, markdown_text))


def render_summary(report: WeeklyReport, location: str, rows: int) -> str:
    """The report's summary for the Prefect artifact: each table's first `rows` rows and how
    many more the file at `location` holds. The week-over-week tables of every team and
    domain (nine rows a domain) are only counted: their largest changes are the top movers."""
    return _markdown(report, _sections(report, markdown_text), cut=(rows, location))


def _markdown(
    report: WeeklyReport, tables: Sequence[Table], cut: tuple[int, str] | None = None
) -> str:
    """The tables as markdown; with `cut` (rows, file), a summary pointing at the file."""
    lines = [f"# {_title(report)}", ""]
    if report.team_filter is not None:
        lines += [f"Team {markdown_text(report.team_filter)} only.", ""]
    lines += [summary_line(report) + ".", ""]
    place = "" if cut is None else "`" + visible(cut[1]).replace("`", "'") + "`"  # code span
    left_to_the_file = 0
    for table in tables:
        if cut is not None and table.per_subject:
            left_to_the_file += len(table.rows)
            continue
        if not table.rows and table.title not in EMPTY:
            continue
        lines += [f"## {table.title}", ""]
        if not table.rows:
            lines += [EMPTY[table.title], ""]
            continue
        shown = table.rows if cut is None else table.rows[:cut[0]]
        lines.append("| " + " | ".join(table.header) + " |")
        lines.append("|" + "---|" * len(table.header))
        lines += ["| " + " | ".join(row) + " |" for row in shown]
        lines.append("")
        if len(shown) < len(table.rows):
            lines += [f"…and {len(table.rows) - len(shown)} more in the file {place}", ""]
    if cut is not None:
        lines += [f"Every team and domain week over week ({left_to_the_file} rows) and every "
                  f"row above: the file {place}.", ""]
    return "\n".join(lines)


# --- HTML --------------------------------------------------------------------------------


@cache
def _html_environment() -> Environment:
    """The one HTML environment (mailops.report.html), built once: weekly.html and the chart
    macro it shares with the dashboard."""
    return html.environment()


def render_html(report: WeeklyReport, *, charts: bool = True) -> str:
    """One self-contained page (templates/weekly.html): tables, and charts as inline SVG
    (no script, no network needed). Names go to the template as stored: it escapes them."""
    return _html_environment().get_template("weekly.html").render(
        title=_title(report),
        team_filter=report.team_filter,
        summary=summary_line(report),
        charts=report_charts(report) if charts else [],
        tables=_sections(report, str),
        empty=EMPTY,
    )


def report_charts(report: WeeklyReport) -> list[Chart]:
    """A week-by-week line chart per charted metric with data (the shared chart path of
    mailops.report.charts): the `CHART_SUBJECTS` subjects largest this week."""
    charts = []
    for scope, metric in CHART_METRICS:
        series = _series(report, scope, metric)
        if series:
            charts.append(weekly_chart(f"{scope}s: {metric_label(metric)}, week by week",
                                       series, max_lines=CHART_SUBJECTS))
    return charts


def _series(report: WeeklyReport, scope: str,
            metric: str) -> list[tuple[str, list[tuple[str, float]]]]:
    """Every subject's weekly points of `metric`, the largest this week first."""
    points: dict[str, list[tuple[str, float]]] = {}
    for point in report.history:
        if point.scope == scope and point.metric == metric:
            points.setdefault(point.subject, []).append((point.week, point.value))
    latest = {s: dict(p).get(report.week, float("-inf")) for s, p in points.items()}
    ordered = sorted(points, key=lambda s: (-latest[s], s.lower()))
    return [(subject, points[subject]) for subject in ordered]


def as_text(report: WeeklyReport, fmt: str) -> str:
    """The report in `fmt`: md, html or json."""
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "json":
        import json

        return json.dumps(to_jsonable(report), indent=2, default=str, ensure_ascii=False) + (
            "\n")
    raise ValueError(f"unknown format {fmt!r}; choose md, html or json")


FORMATS: Sequence[str] = ("md", "html", "json")
