"""Pure reset and billing decisions: reconciling lost answers, ledger keys, overage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailops.rules.resets import (
    MonthCounters,
    ResetOutcome,
    daily_key,
    monthly_key,
    overage,
    parse_period,
    previous_period,
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


def test_the_daily_key_defaults_to_the_utc_day_and_accepts_its_neighbour():
    assert daily_key(None, NOW) == "2026-11-01"
    assert daily_key("2026-10-31", NOW) == "2026-10-31"


def test_a_daily_key_far_from_today_is_refused():
    with pytest.raises(ValueError, match="must be 2026-11-01"):
        daily_key("2026-10-20", NOW)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        daily_key("yesterday", NOW)


def test_the_monthly_key_defaults_to_the_month_just_ended():
    assert previous_period(NOW) == "2026-10"
    assert previous_period(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-12"
    assert monthly_key(None, NOW) == "2026-10"
    assert monthly_key("2026-11", NOW) == "2026-11"


def test_a_monthly_key_other_than_the_last_or_current_month_is_refused():
    with pytest.raises(ValueError, match="must be 2026-10"):
        monthly_key("2026-08", NOW)
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_period("2026-13")
