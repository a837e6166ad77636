"""The weekly report's computations on hand-made frames with known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from mailops.jsonable import to_jsonable
from mailops.report.weekly import (
    NoReportData,
    build_report,
    last_complete_week,
    parse_week,
    week_name,
)
from mailops.settings import ReportSettings

WEEK = "2026-W47"  # Monday 2026-11-16 to Sunday 2026-11-22
MONDAY = date(2026, 11, 16)
SETTINGS = ReportSettings()
NO_ALERTS = pd.DataFrame(columns=["day", "job", "key", "subject", "severity", "message"])
NO_AUDIT = pd.DataFrame(columns=[
    "run_id", "job", "target", "field", "old_value", "new_value", "reason", "changed_at", "label",
])


def days_of_week(weeks_before: int) -> list[date]:
    start = MONDAY - timedelta(weeks=weeks_before)
    return [start + timedelta(days=n) for n in range(7)]


def report(teams=(), domains=(), alerts=NO_ALERTS, audit=NO_AUDIT, settings=SETTINGS, **kw):
    return build_report(
        WEEK, pd.DataFrame(list(teams)), pd.DataFrame(list(domains)), alerts, audit,
        settings, **kw,
    )


def change(found, subject, metric):
    (match,) = [c for c in found.changes if c.subject == subject and c.metric == metric]
    return match


# --- weeks -------------------------------------------------------------------------------


def test_weeks_are_parsed_and_named():
    assert parse_week("2026-W47") == (date(2026, 11, 16), date(2026, 11, 22))
    assert week_name(date(2027, 1, 1)) == "2026-W53"
    with pytest.raises(ValueError, match="ISO week"):
        parse_week("2026-47")
    with pytest.raises(ValueError, match="not a week"):
        parse_week("2025-W53")


def test_the_default_week_is_the_last_complete_one_in_the_operators_zone():
    # Monday 00:30 in Berlin is still Sunday in UTC
    moment = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert last_complete_week(moment, ZoneInfo("Europe/Berlin")) == "2026-W47"
    assert last_complete_week(moment, ZoneInfo("UTC")) == "2026-W46"


# --- week over week ----------------------------------------------------------------------


def test_week_over_week_sums_counters_and_averages_levels(trend_rows):
    rows = [trend_rows.team(d, "acme", failed_24h=2, quarantine_backlog=10, weekly_used=100 + i)
            for i, d in enumerate(days_of_week(1))]
    rows += [trend_rows.team(d, "acme", failed_24h=3, quarantine_backlog=5, weekly_used=200 + i)
             for i, d in enumerate(days_of_week(0))]
    found = report(rows)
    failed = change(found, "acme", "failed_24h")
    assert (failed.last_week, failed.this_week, failed.change) == (14, 21, 7)
    assert failed.change_pct == pytest.approx(50.0)
    assert failed.in_words() == "+50% (+7)"
    backlog = change(found, "acme", "quarantine_backlog")
    assert (backlog.last_week, backlog.this_week, backlog.change_pct) == (10, 5, -50.0)
    used = change(found, "acme", "weekly_used")  # the week's peak
    assert (used.last_week, used.this_week) == (106, 206)
    denied = change(found, "acme", "denied_24h")  # 0 both weeks
    assert (denied.change, denied.change_pct, denied.note) == (0, 0, "")


def test_division_by_zero_and_missing_weeks_are_said_in_words(trend_rows):
    rows = [trend_rows.team(d, "acme", denied_24h=0) for d in days_of_week(1)]
    rows += [trend_rows.team(d, "acme", denied_24h=1) for d in days_of_week(0)]
    rows += [trend_rows.team(d, "newco") for d in days_of_week(0)]
    rows += [trend_rows.team(d, "gapco") for d in days_of_week(2) + days_of_week(0)]
    rows += [trend_rows.team(d, "goneco") for d in days_of_week(1)]
    found = report(rows)
    denied = change(found, "acme", "denied_24h")
    assert (denied.last_week, denied.this_week, denied.change_pct) == (0, 7, None)
    assert denied.in_words() == "new this week"
    assert change(found, "newco", "failed_24h").in_words() == "new this week"
    gap = change(found, "gapco", "failed_24h")
    assert (gap.last_week, gap.in_words()) == (None, "no data last week")
    gone = change(found, "goneco", "failed_24h")
    assert (gone.this_week, gone.in_words()) == (None, "no data this week")
    assert found.teams == ["acme", "gapco", "newco"]  # those with data this week
    assert all(m.change_pct is not None for m in found.movers)


def test_top_movers_are_the_largest_changes_of_behaviour(trend_rows):
    rows = [trend_rows.team(d, "acme", failed_24h=1, denied_24h=10, weekly_limit=100)
            for d in days_of_week(1)]
    rows += [trend_rows.team(d, "acme", failed_24h=4, denied_24h=9, weekly_limit=500)
             for d in days_of_week(0)]
    movers = report(rows).movers
    assert [(m.metric, round(m.change_pct)) for m in movers] == [
        ("failed_24h", 300), ("denied_24h", -10)
    ]  # the limit's change is configuration, not a mover


# --- drifts ------------------------------------------------------------------------------


def test_a_four_week_drift_and_its_slope(trend_rows):
    rows = []
    for weeks_before, backlog, failed in ((4, 10, 5), (3, 12, 1), (2, 14, 2), (1, 16, 3),
                                          (0, 18, 4)):
        rows += [trend_rows.team(d, "acme", quarantine_backlog=backlog, failed_24h=failed)
                 for d in days_of_week(weeks_before)]
    found = report(rows)
    (drift,) = found.drifts  # failed_24h rose only 3 weeks in a row: not a drift
    assert (drift.subject, drift.metric, drift.direction, drift.weeks) == (
        "acme", "quarantine_backlog", "up", 4
    )
    assert (drift.start_value, drift.end_value) == (10, 18)
    assert drift.slope_per_week == pytest.approx(2.0)
    assert drift.slope_pct == pytest.approx(20.0)
    assert "up 4 weeks in a row" in drift.in_words()


def test_a_missing_week_ends_a_drift(trend_rows):
    rows = []
    for weeks_before, backlog in ((5, 8), (4, 10), (2, 14), (1, 16), (0, 18)):  # no week 3
        rows += [trend_rows.team(d, "acme", quarantine_backlog=backlog)
                 for d in days_of_week(weeks_before)]
    assert report(rows).drifts == []
    assert report(rows, settings=ReportSettings(drift_min_weeks=2)).drifts[0].weeks == 2


def test_a_falling_drift(trend_rows):
    rows = []
    for weeks_before, mean in ((4, 0.4), (3, 0.3), (2, 0.2), (1, 0.1), (0, 0.05)):
        rows += [trend_rows.domain(d, "mail.example", bounce_rate=mean)
                 for d in days_of_week(weeks_before)]
    (drift,) = report(domains=rows).drifts
    assert (drift.scope, drift.direction, drift.weeks) == ("domain", "down", 4)
    assert drift.slope_per_week == pytest.approx(-0.09)  # least squares over 0.4 .. 0.05


# --- forecasts ---------------------------------------------------------------------------


def two_weeks() -> list[date]:
    return days_of_week(1) + days_of_week(0)


def test_a_daily_limit_crossing_in_about_n_days_is_forecast_and_alerted(trend_rows):
    rows = [
        trend_rows.domain(d, "mail.example", outbound_sent_today=100 + 10 * i,
                          outbound_daily_limit=300, bounce_rate=0.1 + 0.01 * i)
        for i, d in enumerate(two_weeks())
    ]
    found = report(domains=rows)
    by_key = {f.key: f for f in found.forecasts}
    assert set(by_key) == {"daily_limit", "bounce_rate"}  # the flat complaint rate: none
    limit = by_key["daily_limit"]
    assert (limit.current, limit.threshold, limit.days) == (230, 300, 7)
    assert limit.slope_per_day == pytest.approx(10)
    assert limit.in_words() == "in about 7 days"
    bounce = by_key["bounce_rate"]
    assert (bounce.threshold, bounce.days) == (0.5, 27)  # 0.23 + 0.01 a day
    # only the crossing within alert_within_days (14) is an alert, before it happens
    (alert,) = found.alerts
    assert (alert.key, alert.subject, alert.value) == ("forecast_daily_limit", "mail.example", 7)
    assert "in about 7 days" in alert.message


def test_a_weekly_quota_crossing_from_the_weekly_peaks(trend_rows):
    rows = []
    for weeks_before, peak in ((3, 400), (2, 500), (1, 600), (0, 700)):
        rows += [trend_rows.team(d, "acme", weekly_used=peak - 6 + n, weekly_limit=1000)
                 for n, d in enumerate(days_of_week(weeks_before))]
    (forecast,) = report(rows).forecasts
    assert (forecast.key, forecast.current, forecast.days) == ("weekly_quota", 700, 21)
    assert forecast.slope_per_day == pytest.approx(100 / 7)


def test_a_handful_of_sends_forecasts_nothing(trend_rows):
    # rates rising fast, but only 91 sends in 14 days (min_volume 100)
    rows = [
        trend_rows.domain(d, "tiny.example", outbound_sent_today=i, outbound_daily_limit=20,
                          bounce_rate=0.1 * i, complaint_rate=0.05 * i)
        for i, d in enumerate(two_weeks())
    ]
    found = report(domains=rows)
    assert found.forecasts == [] and found.alerts == []
    low = report(domains=rows, settings=ReportSettings(min_volume=50))
    assert {f.key for f in low.forecasts} == {"daily_limit"}
    # (both rates are past their suspension thresholds already: 1.3 % against 0.5 %)
    assert {f.key for f in low.crossed} == {"bounce_rate", "complaint_rate"}


def test_an_already_crossed_threshold_is_shown_apart_from_the_forecasts_not_alerted(
        trend_rows):
    # Given a domain sending its whole daily limit every day
    rows = [trend_rows.domain(d, "hot.example", outbound_sent_today=300,
                              outbound_daily_limit=300) for d in two_weeks()]
    # When the report is computed
    found = report(domains=rows)
    # Then the crossing is in its own list, not among the crossings ahead, and not an alert
    (forecast,) = found.crossed
    assert (forecast.days, forecast.in_words()) == (None, "already crossed")
    assert found.forecasts == [] and found.alerts == []


def test_no_forecast_beyond_the_horizon_or_on_a_falling_trend(trend_rows):
    rows = [trend_rows.domain(d, "slow.example", outbound_sent_today=100 + i,
                              outbound_daily_limit=10_000) for i, d in enumerate(two_weeks())]
    rows += [trend_rows.domain(d, "calm.example", outbound_sent_today=200 - i,
                               outbound_daily_limit=250) for i, d in enumerate(two_weeks())]
    assert report(domains=rows).forecasts == []


# --- alerts, actions, the empty week, the team filter ------------------------------------


def test_alerts_by_kind_and_audited_actions_of_the_week(trend_rows):
    alerts = pd.DataFrame([
        {"day": MONDAY, "job": "daily-health", "key": "quarantine_backlog", "subject": "acme",
         "severity": "warning", "message": "m"},
        {"day": MONDAY + timedelta(1), "job": "daily-health", "key": "quarantine_backlog",
         "subject": "acme", "severity": "warning", "message": "m"},
        {"day": MONDAY, "job": "daily-health", "key": "domain_suspended", "subject": "x.example",
         "severity": "critical", "message": "m"},
        {"day": MONDAY, "job": "weekly-report", "key": "forecast_daily_limit",
         "subject": "x.example", "severity": "warning", "message": "m"},
    ])
    at = datetime(2026, 11, 17, 6, tzinfo=UTC)
    audit = pd.DataFrame([
        {"run_id": "r1", "job": "contact-cleanup", "target": f"contact:acme:{n}",
         "field": "state", "old_value": "unset", "new_value": "blocked", "reason": "volume",
         "changed_at": at, "label": f"s{n}@spam.xyz"} for n in range(3)
    ] + [
        {"run_id": "r2", "job": "quarantine-accept", "target": "quarantine:globex:q1",
         "field": "status", "old_value": "quarantined", "new_value": "released",
         "reason": "whitelisted", "changed_at": at, "label": "boss@corp.com"},
        {"run_id": "r3", "job": "outbound-guard", "target": "domain:x.example",
         "field": "outbound_status", "old_value": "active", "new_value": "suspended",
         "reason": "bounces", "changed_at": at, "label": "x.example"},
    ])
    rows = [trend_rows.team(d, "acme") for d in days_of_week(0)]
    found = report(rows, alerts=alerts, audit=audit)
    assert [(k.key, k.severity, k.count, k.subjects) for k in found.alert_kinds] == [
        ("domain_suspended", "critical", 1, 1), ("quarantine_backlog", "warning", 2, 1),
    ]
    assert [(a.kind, a.job, a.change, a.count) for a in found.actions] == [
        ("contact", "contact-cleanup", "unset -> blocked", 3),
        ("quarantine", "quarantine-accept", "quarantined -> released", 1),
    ]
    assert found.action_samples[0].label == "s0@spam.xyz"
    only_acme = report(rows, alerts=alerts, audit=audit, team="acme")
    assert [a.kind for a in only_acme.actions] == ["contact"]
    assert [k.key for k in only_acme.alert_kinds] == ["quarantine_backlog"]


def test_a_week_without_data_is_a_clear_error(trend_rows):
    rows = [trend_rows.team(d, "acme") for d in days_of_week(1)]
    with pytest.raises(NoReportData, match=r"no trend data in 2026-W47 \(2026-11-16"):
        report(rows)
    with pytest.raises(NoReportData, match="for team 'nobody'"):
        report([trend_rows.team(d, "acme") for d in days_of_week(0)], team="nobody")


def test_the_report_is_plain_json(trend_rows):
    import json

    rows = [trend_rows.team(d, "acme", failed_24h=1) for d in two_weeks()]
    data = to_jsonable(report(rows))
    assert json.loads(json.dumps(data, default=str))["week"] == WEEK
    assert data["changes"][0]["in_words"]


def test_month_to_date_counters_are_neither_drifts_nor_movers(trend_rows):
    # Given five weeks of a domain sending a flat 100 a day whose month-to-date counters
    # (sends, bounces, complaints this month) grow every day
    rows = []
    for weeks_before in range(4, -1, -1):
        for n, day in enumerate(days_of_week(weeks_before)):
            to_date = (4 - weeks_before) * 7 + n + 1
            rows.append(trend_rows.domain(
                day, "mail.example", outbound_sent_today=100, outbound_sent_month=100 * to_date,
                bounce_count=to_date, complaint_count=to_date,
            ))
    # When the report of the last week is computed
    found = report(domains=rows)
    # Then no drift or mover is a month-to-date counter, though week over week shows them
    month_to_date = {"outbound_sent_month", "bounce_count", "complaint_count"}
    assert not {d.metric for d in found.drifts} & month_to_date
    assert not {m.metric for m in found.movers} & month_to_date
    assert change(found, "mail.example", "outbound_sent_month").change_pct == pytest.approx(
        (3500 - 2800) / 2800 * 100
    )
