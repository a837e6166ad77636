"""outbound-guard's memory in the store: every mailbox's window, status and cooldown, and
every group's status, as the engine left them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailops.rules.guard import MailboxState, Status, Window
from mailops.store import GuardRecord

NOW = datetime(2026, 10, 1, 12, 15, tzinfo=UTC)


def test_mailboxes_read_back_exactly_as_saved_with_moments_in_utc(any_store):
    # Given a paused mailbox with fractional windows and a cooldown, and a healthy one
    paused = GuardRecord(
        MailboxState("a.example", "p-1", Status.PAUSED, "5 bounces in the window",
                     Window(50.5, 2.5), 1_000, 40, paused_at=NOW - timedelta(hours=1),
                     cooldown_until=NOW + timedelta(hours=23), probation=Window(0.5, 0.0),
                     clean_sends=12.5, group_paused=True),
        last_sent_month=1_000, last_bounce_count=40, suspended_by_guard=True,
        notified_status="paused",
    )
    healthy = GuardRecord(MailboxState("b.example", "p-1"))
    assert any_store.guard.save_mailboxes([paused, healthy], NOW) == 2
    # When they are read back, then nothing changed on the way
    records = any_store.guard.mailboxes()
    assert records == {"a.example": paused, "b.example": healthy}
    assert records["a.example"].state.cooldown_until.utcoffset() == timedelta(0)
    # And a later save replaces the row
    any_store.guard.save_mailboxes([healthy.with_state(MailboxState("b.example", "p-2"))], NOW)
    assert any_store.guard.mailboxes()["b.example"].state.group == "p-2"


def test_suspensions_and_notifications_are_remembered(any_store):
    any_store.guard.save_mailboxes(
        [GuardRecord(MailboxState(name, "p-1"), hands_off=True) for name in ("a.ex", "b.ex")], NOW)
    any_store.guard.mark_suspended(["a.ex"], True)
    any_store.guard.save_groups({"p-1": "warning", "p-2": "healthy"}, NOW)
    any_store.guard.mark_notified({"b.ex": "warning"}, {"p-1": "warning"})
    any_store.guard.save_groups({"p-1": "paused"}, NOW)
    records = any_store.guard.mailboxes()
    assert (records["a.ex"].suspended_by_guard, records["a.ex"].hands_off) == (True, False)
    assert (records["b.ex"].suspended_by_guard, records["b.ex"].notified_status) == (
        False, "warning")
    assert any_store.guard.groups() == {"p-1": ("paused", "warning"), "p-2": ("healthy", None)}
