"""The weekly report's queries on each store: the weeks of trend rows, the week's alerts and
the audited changes within the week in the operator's zone, computed into the same report."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fixtures_trends import fill_weekly_store

from mailops.rules.alerts import Alert, Severity
from mailops.store import Change


def test_the_weekly_report_is_the_same_from_either_store(any_store, trend_rows, monkeypatch):
    # Given five weeks of trend rows, alerts in and before 2026-W47, and audited changes
    # around the week's edges in Berlin (the week starts 2026-11-15T23:00Z)
    from tasks.report import compute_report

    monkeypatch.setenv("MAILOPS_DATABASE_URL", any_store.url)
    monkeypatch.setenv("MAILOPS_TIMEZONE", "Europe/Berlin")
    fill_weekly_store(any_store, trend_rows)
    backlog = Alert("quarantine_backlog", Severity.WARNING, "acme", "backlog 16", 16, 10)
    for day in (date(2026, 11, 10), date(2026, 11, 17), date(2026, 11, 18)):
        any_store.alerts.save(day, "daily-health", [backlog])
    blocked = Change("contact:acme:c1", "state", "unset", "blocked", "junk TLD", "a@junk.xyz")
    for moment in (datetime(2026, 11, 15, 22, 59, tzinfo=UTC),  # Sunday 23:59 in Berlin
                   datetime(2026, 11, 15, 23, 0, tzinfo=UTC),  # Monday 00:00 in Berlin
                   datetime(2026, 11, 22, 22, 59, tzinfo=UTC),  # the week's last minute
                   datetime(2026, 11, 22, 23, 0, tzinfo=UTC)):  # the next week
        any_store.audit.record(f"run-{moment:%d%H%M}", "contact-cleanup", [blocked],
                                 now=moment)
    # When the report's step computes 2026-W47 from the store
    report = compute_report.fn("2026-W47", None)
    # Then the rows, alerts and changes of the week are those, on either database
    assert (report.teams, report.domains) == (["acme", "newco"], ["mail.example"])
    drifts = {(d.subject, d.metric): d for d in report.drifts}
    assert drifts[("acme", "quarantine_backlog")].weeks == 4
    assert drifts[("acme", "quarantine_backlog")].slope_per_week == pytest.approx(2)
    forecasts = {(f.subject, f.key): f.days for f in report.forecasts}
    assert forecasts[("mail.example", "daily_limit")] == 7
    assert forecasts[("acme", "weekly_quota")] == 21
    assert [(k.key, k.count) for k in report.alert_kinds] == [("quarantine_backlog", 2)]
    assert [(a.change, a.count) for a in report.actions] == [("unset -> blocked", 2)]
    assert report.action_samples[0].changed_at == "2026-11-15T23:00:00+00:00"
