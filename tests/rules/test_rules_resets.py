"""Pure reset and billing decisions: reconciling lost answers, ledger keys, overage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailops.rules.resets import (
    HolderState,
    MonthCounters,
    Reconciliation,
    ResetOutcome,
    Resume,
    Trigger,
    after_retake,
    daily_key,
    daily_reset_due,
    holder_state,
    monthly_key,
    overage,
    reconcile_daily,
    reconcile_monthly,
)

NOW = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)


def counters(sent: int, bounces: int = 0, complaints: int = 0) -> MonthCounters:
    return MonthCounters(sent, bounces, complaints)


# --- daily ----------------------------------------------------------------------------------


def test_daily_counters_all_zero_mean_the_reset_was_applied():
    # Given every domain at 0 sent today after a lost answer
    decision = reconcile_daily({"a.com": 0, "b.com": 0})
    # Then the reset happened
    assert decision.outcome is ResetOutcome.APPLIED


def test_daily_counters_with_sends_cannot_be_told_apart():
    # Given one domain still shows sends (not reset, or traffic since the reset)
    decision = reconcile_daily({"a.com": 0, "b.com": 12})
    # Then the outcome is unclear, and the evidence names the busy domain
    assert decision.outcome is ResetOutcome.UNCLEAR
    assert decision.unchanged_or_grown == ["b.com"]
    assert "b.com" in decision.reason


def test_daily_counters_all_lower_than_before_the_call_mean_applied():
    # Given the domains that had sends before the call now show fewer (traffic since)
    decision = reconcile_daily({"a.com": 3, "b.com": 0, "c.com": 1},
                               before={"a.com": 400, "b.com": 0, "c.com": 90})
    # Then only a reset lowers them: applied
    assert decision.outcome is ResetOutcome.APPLIED
    assert decision.lowered == ["a.com", "c.com"]


def test_daily_counters_as_high_as_before_the_call_mean_not_applied():
    # Given every domain that had sends before the call shows as many or more now
    decision = reconcile_daily({"a.com": 400, "b.com": 5, "c.com": 91},
                               before={"a.com": 400, "b.com": 0, "c.com": 90})
    # Then the reset was not applied and may be called once more
    assert decision.outcome is ResetOutcome.NOT_APPLIED
    assert decision.unchanged_or_grown == ["a.com", "c.com"]


def test_daily_counters_some_lower_some_not_cannot_be_told_apart():
    decision = reconcile_daily({"a.com": 3, "c.com": 95}, before={"a.com": 400, "c.com": 90})
    assert decision.outcome is ResetOutcome.UNCLEAR
    assert "1 domains show fewer sends than before the call but 1 do not" in decision.reason


# --- monthly --------------------------------------------------------------------------------


def test_monthly_counters_all_zero_mean_applied_and_the_snapshot_is_billed():
    snapshot = {"a.com": counters(500, 2, 1), "b.com": counters(40)}
    current = {"a.com": counters(0), "b.com": counters(0)}
    decision = reconcile_monthly(snapshot, current)
    assert decision.outcome is ResetOutcome.APPLIED
    assert decision.lowered == ["a.com", "b.com"]


def test_monthly_counters_unchanged_mean_not_applied():
    snapshot = {"a.com": counters(500, 2, 1), "b.com": counters(40)}
    decision = reconcile_monthly(snapshot, dict(snapshot))
    assert decision.outcome is ResetOutcome.NOT_APPLIED


def test_monthly_counters_that_only_grew_mean_not_applied_since_traffic_goes_on():
    snapshot = {"a.com": counters(500, 2, 1), "b.com": counters(40)}
    current = {"a.com": counters(530, 3, 1), "b.com": counters(40)}
    assert reconcile_monthly(snapshot, current).outcome is ResetOutcome.NOT_APPLIED


def test_monthly_counters_all_lowered_but_not_zero_mean_applied_then_traffic():
    # Given the reset happened and a few sends came in right after it
    snapshot = {"a.com": counters(500, 2, 1), "b.com": counters(40)}
    current = {"a.com": counters(3), "b.com": counters(1)}
    assert reconcile_monthly(snapshot, current).outcome is ResetOutcome.APPLIED


def test_monthly_counters_partly_lowered_are_unclear():
    snapshot = {"a.com": counters(500), "b.com": counters(40)}
    current = {"a.com": counters(0), "b.com": counters(41)}
    decision = reconcile_monthly(snapshot, current)
    assert decision.outcome is ResetOutcome.UNCLEAR
    assert decision.lowered == ["a.com"] and decision.unchanged_or_grown == ["b.com"]


def test_a_lower_bounce_count_alone_proves_a_reset():
    snapshot = {"a.com": counters(500, 5, 0)}
    current = {"a.com": counters(500, 0, 0)}
    assert reconcile_monthly(snapshot, current).outcome is ResetOutcome.APPLIED


def test_domains_added_or_removed_since_the_snapshot_are_not_compared():
    # Given a domain created after the snapshot (sending) and one deleted since
    snapshot = {"a.com": counters(500), "gone.com": counters(70)}
    current = {"a.com": counters(510), "new.com": counters(9)}
    # Then only a.com decides: it grew, so the reset was not applied
    assert reconcile_monthly(snapshot, current).outcome is ResetOutcome.NOT_APPLIED


def test_an_idle_month_is_billed_as_zero_either_way():
    # Given a snapshot without a single count, and sends since
    snapshot = {"a.com": counters(0)}
    current = {"a.com": counters(4)}
    # Then the snapshot (all zero) is the month's billing data: nothing to lose
    assert reconcile_monthly(snapshot, current).outcome is ResetOutcome.APPLIED


# --- overage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "limit", "enforcement", "billed"),
    [
        (1_200, 1_000, "soft", 200),  # soft: allowed and billed
        (900, 1_000, "soft", 0),  # under the limit
        (1_200, 1_000, "hard", 0),  # hard: refused, never billed
        (1_200, 0, "soft", 0),  # 0 = unlimited
        (1_200, 1_000, None, 0),  # enforcement unknown: nothing billed
    ],
)
def test_overage_is_billed_only_above_a_soft_monthly_limit(sent, limit, enforcement, billed):
    assert overage(sent, limit, enforcement) == billed


# --- ledger keys ------------------------------------------------------------------------------


def test_the_daily_key_is_the_utc_day_on_the_clock():
    # Given an instant late on 1 November in Berlin, already 2 November nowhere in UTC
    late = datetime(2026, 11, 1, 23, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    # Then the key is the UTC day of that instant
    assert daily_key(NOW) == "2026-11-01"
    assert daily_key(late) == "2026-11-01"


def test_the_monthly_key_is_the_month_just_ended_at_any_time_of_the_next_month():
    assert monthly_key(None, datetime(2026, 11, 1, 0, 5, tzinfo=UTC)) == "2026-10"
    assert monthly_key("2026-10", datetime(2026, 11, 29, 23, 0, tzinfo=UTC)) == "2026-10"


def test_the_running_month_is_refused_as_not_ended():
    with pytest.raises(ValueError, match="2026-11 has not ended yet"):
        monthly_key("2026-11", NOW)


def test_an_older_month_is_refused():
    with pytest.raises(ValueError, match="bills the month just ended, 2026-10"):
        monthly_key("2026-08", NOW)
    with pytest.raises(ValueError, match="YYYY-MM"):
        monthly_key("October", NOW)


MIDNIGHT = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def test_a_run_by_hand_resets_whatever_the_ledger_says():
    due = daily_reset_due(Trigger.BY_HAND, None, MIDNIGHT + timedelta(hours=9),
                          previous_day_done=False, attempted_today=False)
    assert due.reset and "by hand" in due.reason


def test_the_midnight_slot_resets_even_when_it_starts_late_that_day():
    due = daily_reset_due(Trigger.SCHEDULED, MIDNIGHT, MIDNIGHT + timedelta(hours=3),
                          previous_day_done=False, attempted_today=False)
    assert due.reset and "00:00 UTC slot" in due.reason


def test_a_first_catch_up_at_six_does_not_reset_mid_day():
    # Given a deployment made in the morning: its first hourly run, no reset yesterday
    six = MIDNIGHT + timedelta(hours=6)
    due = daily_reset_due(Trigger.SCHEDULED, six, six, previous_day_done=False,
                          attempted_today=False)
    # Then nothing is reset, and it says when the first reset will be
    assert not due.reset
    assert "00:00 UTC on 2026-11-03" in due.reason and "by hand" in due.reason


def test_a_catch_up_resets_when_mailops_reset_yesterday_or_tried_today():
    one = MIDNIGHT + timedelta(hours=1)
    assert daily_reset_due(Trigger.SCHEDULED, one, one, previous_day_done=True,
                           attempted_today=False).reset
    assert daily_reset_due(Trigger.SCHEDULED, one, one, previous_day_done=False,
                           attempted_today=True).reset


def test_a_midnight_slot_that_starts_the_next_day_is_a_catch_up():
    late = MIDNIGHT + timedelta(days=1, hours=2)
    due = daily_reset_due(Trigger.SCHEDULED, MIDNIGHT, late, previous_day_done=False,
                          attempted_today=False)
    assert not due.reset


HERE = "worker-1"


def holder(**overrides: object) -> tuple[HolderState, str]:
    facts: dict[str, object] = {
        "host": HERE, "pid": 4242, "token": "boot:100", "lease_until": NOW, "here": HERE,
        "token_now": "boot:100", "now": NOW,
    }
    return holder_state(**{**facts, **overrides})  # type: ignore[arg-type]


def test_a_holder_on_this_host_is_alive_while_its_process_runs_whatever_its_lease():
    state, why = holder(lease_until=NOW - timedelta(hours=1))
    assert state is HolderState.ALIVE and "still running" in why


def test_a_holder_on_this_host_is_dead_at_once_when_its_process_is_gone_or_reused():
    assert holder(token_now=None)[0] is HolderState.DEAD
    state, why = holder(token_now="boot:999")
    assert state is HolderState.DEAD and "another process" in why


def test_a_holder_on_another_host_is_alive_until_its_lease_runs_out():
    alive = holder(here="worker-2", token_now=None, lease_until=NOW + timedelta(seconds=30))
    dead = holder(here="worker-2", token_now=None, lease_until=NOW - timedelta(seconds=1))
    assert alive[0] is HolderState.ALIVE
    assert dead[0] is HolderState.DEAD and "lease" in dead[1]


def test_a_claim_without_a_holder_cannot_be_told():
    assert holder(host=None, pid=None)[0] is HolderState.UNKNOWN


@pytest.mark.parametrize(("outcome", "forced", "step"), [
    (ResetOutcome.APPLIED, False, Resume.DONE),
    (ResetOutcome.APPLIED, True, Resume.DONE),
    (ResetOutcome.NOT_APPLIED, False, Resume.CALL),
    (ResetOutcome.UNCLEAR, False, Resume.UNKNOWN),
    (ResetOutcome.UNCLEAR, True, Resume.CALL),
])
def test_a_retaken_call_is_reconciled_before_anything_is_sent(outcome, forced, step):
    assert after_retake(Reconciliation(outcome, "why"), forced) is step
