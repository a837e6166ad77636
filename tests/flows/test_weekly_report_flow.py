"""weekly-report under Prefect on a store filled with five weeks of known rows, and its
command."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.run import run_flow
from flows.weekly_report import weekly_report

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_flow_writes_the_report_stores_forecast_alerts_and_posts(weekly_env):
    # When the report of 2026-W47 runs over the five stored weeks
    outcome = run_flow(weekly_report, week="2026-W47", format="html")
    # Then it knows the week, the drift, and the crossing ahead
    assert outcome.ok, outcome.message
    result = outcome.result
    report = result.report
    assert (report.start, report.end) == (date(2026, 11, 16), date(2026, 11, 22))
    assert report.teams == ["acme", "newco"]
    drifts = {(d.subject, d.metric): d for d in report.drifts}
    assert drifts[("acme", "quarantine_backlog")].weeks == 4
    assert drifts[("acme", "quarantine_backlog")].slope_per_week == pytest.approx(2)
    forecasts = {(f.subject, f.key): f for f in report.forecasts}
    # 100 sends a day rising by 10 over the last two weeks: 230 on Sunday, limit 300
    assert forecasts[("mail.example", "daily_limit")].days == 7
    # peaks 400, 500, 600, 700 of 1000: 21 days
    assert forecasts[("acme", "weekly_quota")].days == 21
    assert ("newco", "weekly_quota") not in forecasts  # 5 a week: under the minimum volume
    # The file is the HTML page with its charts, inline SVG
    page = Path(result.file)
    assert page == weekly_env.data_dir / "reports" / "weekly-2026-W47.html"
    assert page.read_text().count('<figure class="chart">\n  <figcaption>') == 4
    # The crossing within 14 days is an alert, stored under the week's last day
    with weekly_env.store() as store:
        stored = store.alerts.of_day(date(2026, 11, 22), "weekly-report")
    assert [(a.key, a.subject) for a in stored] == [("forecast_daily_limit", "mail.example")]
    # The digest went to the outbox (no Slack configured)
    [digest] = (weekly_env.data_dir / "slack").glob("weekly-report-2026-W47-*.json")
    assert "Weekly report 2026-W47" in digest.read_text()


def test_a_week_before_the_first_collected_day_completes_as_not_enough_data(weekly_env):
    # Given a store holding 2026-10-19 to 2026-11-22
    # When the report of a week before it runs
    outcome = run_flow(weekly_report, week="2026-W30", notify=False)
    # Then the run completes, named for it, and says which week is the first with data
    assert outcome.ok and outcome.state == "Not enough data"
    message = outcome.result.no_data
    assert message.startswith("not enough data for 2026-W30 (2026-07-20 to 2026-07-26)")
    assert "from 2026-10-19" in message and "the first week with data is 2026-W43" in message
    assert outcome.result.file is None and outcome.result.report is None


def test_a_fresh_install_completes_saying_when_the_first_report_is_due(tmp_path, monkeypatch):
    # Given an empty store, as on a fresh install
    monkeypatch.setenv("MAILOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'mailops.db'}")
    monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "data"))
    # When the scheduled run reports the last complete week
    outcome = run_flow(weekly_report, notify=False)
    # Then it completes and names the Monday of the first report (after this week)
    assert outcome.ok and outcome.state == "Not enough data", outcome.message
    message = outcome.result.no_data
    assert "the store holds no trend data yet" in message
    assert "the first report, of " in message and "is due on Monday " in message


def test_a_week_without_data_after_the_first_collected_day_fails_naming_the_gap(weekly_env):
    # Given a store holding 2026-10-19 to 2026-11-22, when a later week is reported
    outcome = run_flow(weekly_report, week="2026-W49", notify=False)
    # Then the run fails: daily-health collected nothing that week
    assert not outcome.ok
    assert outcome.message.startswith("no trend data in 2026-W49 (2026-11-30 to 2026-12-06)")
    assert "store holds 2026-10-19 to 2026-11-22" in outcome.message
    assert "daily-health collected nothing that week" in outcome.message


def test_the_command_prints_json_and_writes_the_file(weekly_env, cli, tmp_path):
    out = tmp_path / "w47.json"
    result = CliRunner().invoke(cli, [
        "report", "weekly", "--week", "2026-W47", "--team", "acme", "--format", "json",
        "--out", str(out), "--no-notify", "--json",
    ])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["ok"] is True and printed["teams"] == ["acme"]
    written = json.loads(out.read_text())
    changes = {c["metric"]: c for c in written["changes"] if c["subject"] == "acme"}
    # failed messages: 6 a day in W47 against 5 in W46
    assert (changes["failed_24h"]["last_week"], changes["failed_24h"]["this_week"]) == (35, 42)
    assert changes["failed_24h"]["in_words"] == "+20% (+7)"


def test_the_command_refuses_a_bad_week_and_reports_an_empty_one(weekly_env, cli):
    bad = CliRunner().invoke(cli, ["report", "weekly", "--week", "2026-47"])
    assert bad.exit_code == 2 and "ISO week" in bad.stderr
    early = CliRunner().invoke(cli, ["report", "weekly", "--week", "2026-W30"])
    assert early.exit_code == 0, early.output
    assert early.stdout.startswith("weekly-report: not enough data for 2026-W30")
    empty = CliRunner().invoke(cli, ["report", "weekly", "--week", "2026-W49", "--json"])
    assert empty.exit_code == 1
    body = json.loads(empty.stdout)
    assert body["ok"] is False and body["error"].startswith("no trend data in 2026-W49")
