"""The weekly report as markdown (files, the Prefect artifact) and as one self-contained HTML
page whose charts are embedded PNGs (data: URIs), so it opens without a network.

Every name in a report came from an API (teams, domains, contact emails, alert subjects): it
passes through `markdown_text` or `html_text` here, and charts draw it as plain text; all
three show invisible characters as their markers (escape.visible).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailops.jsonable import to_jsonable
from mailops.report.escape import html_text, markdown_text, visible
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

CHART_SUBJECTS = 6  # lines per chart: the largest this week
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
    """One table of the report, its cells already escaped for the format."""

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

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f4f4f4}td.n{text-align:right}
.charts img{max-width:100%;margin:.5rem 0;display:block}
.muted{color:#666}
"""


def render_html(report: WeeklyReport, *, charts: bool = True) -> str:
    """One self-contained page: tables, and charts as embedded PNGs (no network needed)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html_text(_title(report))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html_text(_title(report))}</h1>",
    ]
    if report.team_filter is not None:
        parts.append(f"<p>Team <strong>{html_text(report.team_filter)}</strong> only.</p>")
    parts.append(f'<p class="muted">{html_text(summary_line(report))}.</p>')
    if charts:
        images = chart_images(report)
        if images:
            parts.append('<h2>Trends</h2><div class="charts">')
            parts += [
                f'<img alt="{html_text(alt)}" src="data:image/png;base64,{data}">'
                for alt, data in images
            ]
            parts.append("</div>")
    for table in _sections(report, html_text):
        if not table.rows and table.title not in EMPTY:
            continue
        parts.append(f"<h2>{html_text(table.title)}</h2>")
        if not table.rows:
            parts.append(f'<p class="muted">{html_text(EMPTY[table.title])}</p>')
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in table.header)
                     + "</tr></thead><tbody>")
        parts += ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                  for row in table.rows]
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def chart_images(report: WeeklyReport) -> list[tuple[str, str]]:
    """(alt text, base64 PNG) of a weekly line chart per charted metric with data."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    images = []
    for scope, metric in CHART_METRICS:
        series = _series(report, scope, metric)
        if not series:
            continue
        weeks = sorted({week for points in series.values() for week, _ in points})
        figure, axes = plt.subplots(figsize=(8, 3.2), dpi=90)
        try:
            for subject, points in series.items():
                values = dict(points)
                axes.plot(
                    [weeks.index(w) for w in weeks if w in values],
                    [values[w] for w in weeks if w in values],
                    marker="o", label=_plain_label(subject),
                )
            axes.set_xticks(range(len(weeks)), weeks, fontsize=8)
            title = f"{scope}s: {metric_label(metric)}, week by week"
            axes.set_title(title, fontsize=10)
            axes.grid(alpha=0.3)
            axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
        finally:
            plt.close(figure)
        images.append((title, base64.b64encode(buffer.getvalue()).decode("ascii")))
    return images


def _series(report: WeeklyReport, scope: str, metric: str) -> dict[str, list[tuple[str, float]]]:
    """The weekly points of the `CHART_SUBJECTS` subjects largest this week."""
    points: dict[str, list[tuple[str, float]]] = {}
    for point in report.history:
        if point.scope == scope and point.metric == metric:
            points.setdefault(point.subject, []).append((point.week, point.value))
    latest = {s: dict(p).get(report.week, float("-inf")) for s, p in points.items()}
    chosen = sorted(points, key=lambda s: (-latest[s], s.lower()))[:CHART_SUBJECTS]
    return {subject: points[subject] for subject in chosen}


def _plain_label(text: str) -> str:
    """A legend label matplotlib shows literally (no mathtext, invisible characters as their
    markers), cut to a sane length."""
    text = visible(text)
    label = text if len(text) <= 40 else text[:39] + "…"
    if label.startswith("_"):  # matplotlib leaves such labels out of the legend
        label = "\u200b" + label
    return label.replace("$", r"\$")


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
