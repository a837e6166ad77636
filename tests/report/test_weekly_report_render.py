"""The weekly report rendered: markdown tables, a self-contained HTML page with inline SVG
charts, the Slack digest; hostile names stay text everywhere."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from mailops.report.render_weekly import as_text, render_html, render_markdown, render_summary
from mailops.report.slack import MAX_BLOCKS, MAX_SECTION_TEXT, weekly_report_message
from mailops.report.weekly import build_report
from mailops.settings import ReportSettings

HOSTILE = "<script>alert(1)</script>*bold* | $x$ @channel"
NO_ALERTS = pd.DataFrame(columns=["day", "job", "key", "subject", "severity", "message"])
NO_AUDIT = pd.DataFrame(columns=[
    "run_id", "job", "target", "field", "old_value", "new_value", "reason", "changed_at", "label",
])


@pytest.fixture(scope="module")
def report():
    """Five weeks of a hostile-named team and domain, drifting and heading for a limit."""
    from fixtures_trends import TrendRows

    rows = TrendRows()
    first = date(2026, 10, 19)
    teams, domains = [], []
    for offset in range(35):
        day = first + timedelta(days=offset)
        teams.append(rows.team(day, HOSTILE, quarantine_backlog=10 + 2 * (offset // 7),
                               weekly_used=300 + 100 * (offset // 7)))
        teams.append(rows.team(day, "acme", failed_24h=offset % 3))
        domains.append(rows.domain(day, f"{HOSTILE}.example", outbound_sent_today=100 + offset,
                                   outbound_daily_limit=140))
    return build_report("2026-W47", pd.DataFrame(teams), pd.DataFrame(domains), NO_ALERTS,
                        NO_AUDIT, ReportSettings())


def test_markdown_has_every_section_and_escapes_names(report):
    text = render_markdown(report)
    for title in ("# Weekly report 2026-W47 (2026-11-16 to 2026-11-22)", "## Forecasts",
                  "## Gradual drifts", "## Top movers", "## Teams: this week against last week",
                  "## Domains: this week against last week", "## Alerts of the week by kind",
                  "## Contact and quarantine actions"):
        assert title in text
    assert "<script>" not in text and "*bold*" not in text
    assert "&lt;script&gt;" in text
    assert "in about 6 days" in text  # 133 sends a day, +1 a day, limit 140
    # no table row is broken by a | in a name: every row has its header's cells
    for table in re.split(r"\n\n", text):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) <= 1, table


def test_html_is_self_contained_with_inline_svg_charts(report):
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    charts = re.findall(r'<figure class="chart">.*?</figure>', page, re.DOTALL)
    assert len(charts) == 4  # backlog, usage, sends, bounce rate
    for chart in charts:
        assert '<svg viewBox="0 0 560 220"' in chart and "<polyline" in chart
    assert "<img" not in page and "<script" not in page  # nothing embedded to decode or run
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_right_to_left_override_in_a_name_is_shown_as_a_marker_in_every_format():
    from fixtures_trends import TrendRows

    # Given five weeks of a team whose name carries a right-to-left override
    rows, teams = TrendRows(), []
    for offset in range(35):
        day = date(2026, 10, 19) + timedelta(days=offset)
        teams.append(rows.team(day, "\u202egnp.exe", quarantine_backlog=10 + 2 * (offset // 7)))
    report = build_report("2026-W47", pd.DataFrame(teams), pd.DataFrame(
        [rows.domain(date(2026, 11, 16), "plain.example")]), NO_ALERTS, NO_AUDIT,
        ReportSettings())
    # When the report is rendered as markdown, HTML with its charts' legends and the Slack digest
    markdown, html = render_markdown(report), render_html(report)
    digest = str(weekly_report_message(report, location="weekly.html"))
    # Then none of them carries the override, and each shows its marker
    for text in (markdown, html, digest):
        assert "\u202e" not in text
    assert "&lt;U\\+202E&gt;gnp\\.exe" in markdown
    assert "&lt;U+202E&gt;gnp.exe" in html and "&lt;U+202E&gt;gnp.exe" in digest
    # ...the charts' legends and tooltips included (SVG text nodes)
    assert "</svg> &lt;U+202E&gt;gnp.exe</li>" in html
    assert "<title>&lt;U+202E&gt;gnp.exe</title></polyline>" in html


def test_every_format_renders(report):
    import json

    assert json.loads(as_text(report, "json"))["week"] == "2026-W47"
    assert as_text(report, "md").startswith("# Weekly report")
    with pytest.raises(ValueError, match="unknown format"):
        as_text(report, "pdf")


def test_slack_digest_is_escaped_and_within_block_kit_limits(report):
    crowded = replace(report, drifts=report.drifts * 200)  # far more than fits
    message = weekly_report_message(crowded, location="data/reports/weekly-2026-W47.md")
    assert len(message["blocks"]) <= MAX_BLOCKS
    text = str(message)
    assert "<script>" not in text and "@channel" not in text
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
    assert any("more_" in b.get("text", {}).get("text", "") for b in message["blocks"])


def test_month_to_date_counters_are_labelled_so(report):
    # Given a report whose domain table holds EmBoux's monthly counters
    # (docs/emboux-api.md#outbound-counters)
    # When it is rendered as markdown
    text = render_markdown(report)
    # Then each says it counts from the start of the month
    for label in ("sends, month to date", "bounces, month to date",
                  "complaints, month to date"):
        assert label in text


@pytest.fixture(scope="module")
def busy_report():
    """One week of 30 domains: each past its daily limit, and each heading for it, 15 of
    them already past their bounce-rate threshold."""
    from fixtures_trends import TrendRows

    rows = TrendRows()
    first = date(2026, 11, 9)
    domains = []
    for number in range(30):
        for offset in range(14):
            day = first + timedelta(days=offset)
            domains.append(rows.domain(
                day, f"d{number:02d}.example", outbound_sent_today=500 + number + 5 * offset,
                outbound_daily_limit=600 + 10 * number, bounce_rate=1.0 if number < 15 else 0.1))
    return build_report("2026-W47", pd.DataFrame(), pd.DataFrame(domains), NO_ALERTS,
                        NO_AUDIT, ReportSettings())


def test_crossings_already_past_have_their_own_section_in_every_format(busy_report):
    # Given 15 domains past their bounce-rate threshold and 30 heading for their limit
    assert len(busy_report.crossed) == 15 and busy_report.forecasts
    # When the report is rendered as markdown, HTML and the Slack digest
    text = render_markdown(busy_report)
    page = render_html(busy_report, charts=False)
    digest = str(weekly_report_message(busy_report))
    # Then "Already crossed" comes before the forecasts and holds no crossing ahead
    crossed = text[text.index("## Already crossed"):text.index("## Forecasts")]
    assert crossed.count("suspension (0.50)") == 15 and "in about" not in crossed
    assert "already crossed" not in text[text.index("## Forecasts"):]
    # ...and a forecast shows the trend's figure it counts from, beside the last day's
    forecasts = text[text.index("## Forecasts"):text.index("## Gradual drifts")]
    # d00: 500 + 5 x 13 sends on its last day, on a straight line: the trend says the same
    assert r"| d00\.example | daily limit (600) | 565 (trend 565) |" in forecasts
    assert page.index("<h2>Already crossed</h2>") < page.index("<h2>Forecasts</h2>")
    assert digest.index("*Already crossed*") < digest.index("*Forecasts*")


def test_the_artifact_summary_shows_the_top_rows_and_points_at_the_file(busy_report):
    # Given a report whose tables are longer than the artifact's 10 rows
    # When its summary is rendered for the artifact
    summary = render_summary(busy_report, "/data/reports/weekly-2026-W47.md", rows=10)
    # Then each table shows its first 10 rows and how many more the file has
    assert "…and 5 more in the file `/data/reports/weekly-2026-W47.md`" in summary
    crossed = summary[summary.index("## Already crossed"):summary.index("## Forecasts")]
    assert crossed.count("| domain |") == 10
    # ...the per-domain week-over-week tables are only counted, and it is far smaller
    assert "## Domains: this week against last week" not in summary
    assert "Every team and domain week over week (270 rows)" in summary
    assert len(summary) < len(render_markdown(busy_report)) / 3
