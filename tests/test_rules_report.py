"""Which weekly-report metrics may drift or move: seed 002's month-to-date counters may not."""

from __future__ import annotations

import pytest

from mailops.rules.report import can_drift, is_month_to_date


@pytest.mark.parametrize("metric", ["outbound_sent_month", "bounce_count", "complaint_count"])
def test_seed_002s_monthly_counters_are_month_to_date_and_never_drift(metric):
    # Given a counter that EmBoux's monthly freeze resets
    # When the rule is asked about it
    # Then it is month-to-date and no drift or mover is computed over it
    assert is_month_to_date(metric)
    assert not can_drift(metric)


@pytest.mark.parametrize("metric", ["outbound_sent_today", "bounce_rate", "failed_24h"])
def test_daily_figures_may_drift(metric):
    # Given a daily figure (reset-daily zeroes outbound_sent_today each day)
    # When the rule is asked about it
    # Then it may drift
    assert not is_month_to_date(metric)
    assert can_drift(metric)


def test_a_setting_never_drifts():
    # Given a configured limit among the settings
    # When the rule is asked about it
    # Then it does not drift, though it is no month-to-date counter
    assert not can_drift("outbound_daily_limit", frozenset({"outbound_daily_limit"}))
    assert not is_month_to_date("outbound_daily_limit")
