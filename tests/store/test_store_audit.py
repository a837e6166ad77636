"""The audit log keeps every remote change with its previous value, per run, in order."""

from __future__ import annotations

from mailops.store import Change


def test_changes_of_a_run_come_back_in_the_order_they_were_made(any_store):
    changes = [
        Change("contact:c1 team:acme", "state", "unset", "blocked", "junk TLD .xyz"),
        Change("contact:c2 team:acme", "state", "unset", "whitelisted", "Finance, 12 emails"),
    ]
    assert any_store.audit.record("run-1", "contact-cleanup", changes) == 2
    any_store.audit.record("run-2", "contact-cleanup", [changes[0]])
    records = any_store.audit.of_run("run-1")
    assert [r.change for r in records] == changes
    assert all(r.job == "contact-cleanup" and r.changed_at.tzinfo for r in records)


def test_recording_no_changes_writes_nothing(any_store):
    assert any_store.audit.record("run-1", "contact-cleanup", []) == 0
    assert any_store.audit.of_run("run-1") == []


def test_alerts_of_a_day_are_replaced_by_a_rerun_of_the_same_job(any_store):
    from datetime import date

    from mailops.rules.alerts import Alert, Severity

    day = date(2026, 10, 5)
    usage = Alert("weekly_usage", Severity.WARNING, "acme", "Weekly quota at 85%", 85, 80)
    backlog = Alert("quarantine_backlog", Severity.WARNING, "acme", "12 in quarantine", 12, 10)
    any_store.alerts.save(day, "daily-health", [usage, backlog, usage])
    any_store.alerts.save(day, "outbound-reset-daily", [backlog])
    any_store.alerts.save(day, "daily-health", [usage])
    assert any_store.alerts.of_day(day, "daily-health") == [usage]
    assert len(any_store.alerts.of_day(day)) == 2
