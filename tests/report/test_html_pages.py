"""One HTML templating, one chart path (issue 21): every HTML page mailops writes, the
dashboard's and the weekly report's, is a template of the one Jinja2 environment
(mailops/report/html.py), and every chart of them is the one SVG macro over the one chart
geometry (mailops/report/charts.py)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import httpx
import pandas as pd
from fixtures_dashboard import TREND_LAST_DAY, _team_row
from fixtures_trends import TrendRows

from mailops.dashboard.app import _templates
from mailops.dashboard.server import Dashboard
from mailops.report import html
from mailops.report.charts import daily_chart, weekly_chart
from mailops.report.escape import html_text
from mailops.report.render_weekly import _html_environment, render_html
from mailops.report.weekly import build_report
from mailops.settings import ReportSettings
from mailops.store import Store, team_daily

ROOT = Path(__file__).resolve().parents[2]
# A team name from an API with markup and a right-to-left override in it
HOSTILE_NAME = "<script>alert('x')</script>\u202eevil-team"
NO_ALERTS = pd.DataFrame(columns=["day", "job", "key", "subject", "severity", "message"])
NO_AUDIT = pd.DataFrame(columns=[
    "run_id", "job", "target", "field", "old_value", "new_value", "reason", "changed_at", "label",
])


def assert_shown_as_text(page: str) -> None:
    """The hostile name is in `page` escaped, its override as a visible marker, in a table or
    legend and in a chart's SVG tooltip, and never raw."""
    assert "<script>alert" not in page and "\u202e" not in page
    escaped = html_text(HOSTILE_NAME)
    assert escaped == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;U+202E&gt;evil-team"
    assert escaped in page.replace(f"<title>{escaped}</title>", "")  # outside the charts too
    assert re.search(rf"<polyline [^>]*><title>{re.escape(escaped)}</title></polyline>", page)


def test_a_hostile_team_name_is_escaped_and_visible_on_the_dashboard(
    dashboard_store: Store, run_dashboard: Callable[..., Dashboard]
):
    # Given two weeks of a team whose name carries markup and a right-to-left override
    dashboard_store.upsert(team_daily, [_team_row(TREND_LAST_DAY - timedelta(days=back),
                                                  HOSTILE_NAME, 50) for back in range(14)])
    # When the dashboard's trends page is rendered
    page = httpx.get(f"{run_dashboard().url}/trends", timeout=10, trust_env=False).text
    # Then its week-over-week table and its chart show the name as text, the override visible
    assert_shown_as_text(page)


def test_a_hostile_team_name_is_escaped_and_visible_in_the_weekly_report():
    # Given five weeks of the same team in the weekly report
    rows = TrendRows()
    teams = [rows.team(date(2026, 10, 19) + timedelta(days=offset), HOSTILE_NAME,
                       quarantine_backlog=10 + offset) for offset in range(35)]
    report = build_report("2026-W47", pd.DataFrame(teams), pd.DataFrame(), NO_ALERTS,
                          NO_AUDIT, ReportSettings())
    # When its HTML page is rendered
    page = render_html(report)
    # Then its tables and its charts show the name as text, the override visible
    assert_shown_as_text(page)


def test_every_html_page_is_a_template_of_the_one_environment():
    # Given the environments of the dashboard and of the weekly report
    environments = [_templates().env, _html_environment()]
    for environment in environments:
        # Then each is the one setup: autoescape on, every expression through `shown`
        assert environment.autoescape is True and environment.finalize is html.shown
        assert environment.loader.searchpath[-1] == str(html.TEMPLATES)
    # ...and every HTML template in the package is found by one of them
    served = {Path(folder, name).resolve() for environment in environments
              for folder in environment.loader.searchpath
              for name in environment.list_templates(extensions=["html"])}
    templates = {path.resolve() for path in (ROOT / "mailops").rglob("templates/*.html")}
    assert templates and templates <= served


def test_no_other_code_makes_a_jinja2_environment_or_builds_html_from_strings():
    # Given every module of the package
    makers, pages = [], []
    for path in (ROOT / "mailops").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                # Jinja2Templates without env= would make an Environment of its own
                if name == "Environment" or (name == "Jinja2Templates" and not any(
                        k.arg == "env" for k in node.keywords)):
                    makers.append(str(path.relative_to(ROOT)))
        if "<!DOCTYPE" in source.upper():
            pages.append(str(path.relative_to(ROOT)))
    # Then only mailops/report/html.py makes one, and no module writes a page itself
    assert makers == ["mailops/report/html.py"]
    assert pages == []


def render_chart(chart: object) -> str:
    """One chart through the shared macro, as every page draws it."""
    template = html.environment().from_string(
        '{% from "chart.html" import chart %}{{ chart(c) }}')
    return template.render(c=chart)


def test_a_weekly_series_is_drawn_as_svg_with_a_point_and_a_dot_a_week():
    # Given two subjects over five weeks, one of them missing a week
    weeks = [f"2026-W{week}" for week in range(43, 48)]
    chart = weekly_chart("teams: backlog, week by week", [
        ("busy", [(week, 10.0 * index) for index, week in enumerate(weeks)]),
        ("patchy", [(week, 5.0) for week in weeks if week != "2026-W45"]),
    ], max_lines=6)
    # When it is rendered
    svg = render_chart(chart)
    # Then each subject is one polyline with a point a week it has, each point a dot
    lines = re.findall(r'<polyline [^>]*points="([^"]+)"', svg)
    assert [len(points.split()) for points in lines] == [5, 4]
    assert svg.count("<circle") == 9
    assert svg.count('<svg viewBox="0 0 560 220"') == 1
    # ...every week labelled, in order, the first at the left of the plot, the last at the right
    assert re.findall(r'text-anchor="middle">(W\d\d)</text>', svg) == [w[5:] for w in weeks]
    busy = [tuple(map(float, p.split(","))) for p in lines[0].split()]
    assert busy[0][0] == chart.plot[0] and busy[-1][0] == chart.plot[2]
    assert busy[-1][1] == chart.plot[1]  # the largest value at the top


def test_a_daily_series_skips_missing_days_and_names_the_subjects_left_out():
    # Given ten days of ten subjects, one day of each unknown
    start = date(2026, 9, 21)
    series = [(f"d{n}.example", [(start + timedelta(days=d), None if d == 4 else float(n + d))
                                 for d in range(10)]) for n in range(10)]
    # When they are charted as the dashboard does
    svg = render_chart(daily_chart("sent per day", series, start, start + timedelta(days=9)))
    # Then the 8 largest are lines of 9 points each (no dot but on a lone point), 2 left out
    lines = re.findall(r'<polyline [^>]*points="([^"]+)"', svg)
    assert [len(points.split()) for points in lines] == [9] * 8
    assert "<circle" not in svg
    assert "(the 8 largest; 2 more in the table)" in svg
    assert "<title>d9.example</title>" in svg and "d0.example" not in svg
