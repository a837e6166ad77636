"""Which weekly-report metrics may drift or move: EmBoux's month-to-date counters
(docs/emboux-api.md#outbound-counters) may not."""

from __future__ import annotations

from datetime import date

import pytest

from mailops.rules.report import can_drift, is_month_to_date, week_without_data


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


def test_a_fresh_store_is_not_enough_data_and_the_first_report_is_the_next_monday():
    # Given an empty store on Wednesday 2026-12-02, asked for the week before
    verdict = week_without_data("2026-W48", date(2026, 11, 23), None, None, date(2026, 12, 2))
    # Then it is no failure: the week collected from today is reported on Monday 12-07
    assert not verdict.failed
    assert "the store holds no trend data yet" in verdict.message
    assert "the first report, of 2026-W49, is due on Monday 2026-12-07" in verdict.message


def test_a_week_before_the_first_collected_day_is_not_enough_data():
    # Given data from Tuesday 2026-12-01 on, the report of the week before it, on 12-02
    verdict = week_without_data("2026-W48", date(2026, 11, 23), date(2026, 12, 1),
                                date(2026, 12, 2), date(2026, 12, 2))
    assert not verdict.failed and "is due on Monday 2026-12-07" in verdict.message
    # ...and once that week's report is past, it names the first week with data instead
    later = week_without_data("2026-W40", date(2026, 9, 28), date(2026, 10, 19),
                              date(2026, 11, 22), date(2026, 12, 2))
    assert not later.failed and "the first week with data is 2026-W43" in later.message


def test_a_week_without_data_after_the_first_collected_day_is_a_failure():
    # Given a store holding 10-19 to 11-22, a week after it, and a team with no rows in it
    after = week_without_data("2026-W49", date(2026, 11, 30), date(2026, 10, 19),
                              date(2026, 11, 22), date(2026, 12, 8))
    team = week_without_data("2026-W47", date(2026, 11, 16), date(2026, 10, 19),
                             date(2026, 11, 22), date(2026, 12, 8), team="nobody")
    # Then both fail, naming what the store holds
    assert after.failed and "daily-health collected nothing that week" in after.message
    assert team.failed and team.message.startswith("no trend data for team 'nobody' in 2026-W47")
