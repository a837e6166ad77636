"""The audit log keeps every remote change with its previous value, per run, in order."""

from __future__ import annotations

from mailops.store import Change


def test_changes_of_a_run_come_back_in_the_order_they_were_made(fresh_store):
    changes = [
        Change("contact:c1 team:acme", "state", "unset", "blocked", "junk TLD .xyz"),
        Change("contact:c2 team:acme", "state", "unset", "whitelisted", "Finance, 12 emails"),
    ]
    assert fresh_store.record_changes("run-1", "contact-cleanup", changes) == 2
    fresh_store.record_changes("run-2", "contact-cleanup", [changes[0]])
    records = fresh_store.changes_of_run("run-1")
    assert [r.change for r in records] == changes
    assert all(r.job == "contact-cleanup" and r.changed_at.tzinfo for r in records)


def test_recording_no_changes_writes_nothing(fresh_store):
    assert fresh_store.record_changes("run-1", "contact-cleanup", []) == 0
    assert fresh_store.changes_of_run("run-1") == []
