"""Each daily-health alert rule at and around its threshold."""

from __future__ import annotations

import pytest

from mailops.models.emboux import Outbound
from mailops.models.health import CollectionFailure, DomainHealth, TeamHealth, TopSender
from mailops.rules.alerts import Severity
from mailops.rules.daily_health import (
    WeekOverWeek,
    alert_owner,
    daily_health_alerts,
    domain_alerts,
    failures_of,
    most_severe_first,
    team_alerts,
    trend_alerts,
)
from mailops.settings import AlertThresholds

LIMITS = AlertThresholds()


def team(**changes) -> TeamHealth:
    base = dict(team="acme", weekly_used=100, weekly_limit=1000, usage_pct=10.0,
                aliases_used=1, aliases_limit=10, mailboxes_used=1, mailboxes_limit=5,
                quarantine_backlog=0, failed_count=0, denied_count=0, top_senders=[])
    return TeamHealth(**{**base, **changes})


def domain(**changes) -> DomainHealth:
    base = dict(name="example.com", outbound_tier="shared", outbound_status="active",
                outbound_daily_limit=500, outbound_monthly_limit=0, outbound_sent_today=10,
                outbound_sent_month=100, outbound_enforcement="hard", bounce_count=0,
                complaint_count=0, bounce_rate=0.0, complaint_rate=0.0, ses_verified=True,
                warmup_profile="standard", spike_max_multiplier=5.0)
    return DomainHealth(Outbound(**{**base, **changes}), "p1")


def keys(found) -> list[str]:
    return [a.key for a in found]


@pytest.mark.parametrize(("pct", "alerted"), [(79.9, False), (80.0, True), (95.0, True)])
def test_weekly_usage_alerts_from_80_percent(pct, alerted):
    assert ("weekly_usage" in keys(team_alerts(team(usage_pct=pct), LIMITS))) is alerted


def test_weekly_usage_over_the_limit_is_critical():
    [alert] = team_alerts(team(usage_pct=104.0, weekly_used=1040), LIMITS)
    assert alert.severity is Severity.CRITICAL and alert.message.endswith("(1040/1000)")


def test_a_zero_weekly_limit_raises_no_usage_alert():
    assert team_alerts(team(weekly_limit=0, weekly_used=50, usage_pct=0.0), LIMITS) == []


@pytest.mark.parametrize(("backlog", "alerted"), [(10, False), (11, True)])
def test_quarantine_backlog_alerts_above_10(backlog, alerted):
    found = team_alerts(team(quarantine_backlog=backlog), LIMITS)
    assert ("quarantine_backlog" in keys(found)) is alerted


@pytest.mark.parametrize(("failed", "alerted"), [(5, False), (6, True)])
def test_delivery_failures_alert_above_5(failed, alerted):
    found = team_alerts(team(failed_count=failed), LIMITS)
    assert ("delivery_failures" in keys(found)) is alerted


def test_only_unset_senders_above_50_emails_alert():
    senders = [TopSender("a@x.xyz", 51, "unset", None), TopSender("b@x.com", 50, "unset", None),
               TopSender("c@x.com", 400, "whitelisted", "Finance")]
    found = team_alerts(team(top_senders=senders), LIMITS)
    assert [a.subject for a in found] == ["acme / a@x.xyz"]


@pytest.mark.parametrize(("rate", "alerted"), [(0.34, False), (0.35, True), (0.49, True)])
def test_bounce_rate_warns_at_70_percent_of_the_suspension_threshold(rate, alerted):
    found = domain_alerts(domain(bounce_rate=rate), LIMITS, None)
    assert ("bounce_rate_near_suspension" in keys(found)) is alerted


@pytest.mark.parametrize(("rate", "alerted"), [(0.069, False), (0.07, True)])
def test_complaint_rate_warns_at_70_percent_of_its_threshold(rate, alerted):
    found = domain_alerts(domain(complaint_rate=rate), LIMITS, None)
    assert ("complaint_rate_near_suspension" in keys(found)) is alerted


def test_a_suspended_domain_is_critical_and_not_also_near_suspension():
    found = domain_alerts(domain(outbound_status="suspended", bounce_rate=0.9), LIMITS, None)
    assert keys(found) == ["domain_suspended"] and found[0].severity is Severity.CRITICAL


def test_an_unverified_domain_is_critical():
    found = domain_alerts(domain(ses_verified=False), LIMITS, None)
    assert keys(found) == ["domain_unverified"] and found[0].severity is Severity.CRITICAL


@pytest.mark.parametrize(("sent", "alerted"), [(399, False), (400, True)])
def test_daily_limit_alerts_from_80_percent(sent, alerted):
    found = domain_alerts(domain(outbound_sent_today=sent), LIMITS, None)
    assert ("daily_limit" in keys(found)) is alerted


def test_an_unlimited_domain_raises_no_daily_limit_alert():
    found = domain_alerts(domain(outbound_daily_limit=0, outbound_sent_today=10**6), LIMITS, None)
    assert "daily_limit" not in keys(found)


@pytest.mark.parametrize(("sent", "average", "alerted"),
                         [(400, 100.0, False), (401, 100.0, True), (401, None, False),
                          (5, 0.0, False)])
def test_a_spike_is_more_than_4x_the_7_day_average(sent, average, alerted):
    found = domain_alerts(domain(outbound_daily_limit=0, outbound_sent_today=sent), LIMITS,
                          average)
    assert ("send_spike" in keys(found)) is alerted


def test_weekly_growth_above_the_threshold_with_enough_days_is_a_trend():
    grew = WeekOverWeek("team", "acme", "quarantine_backlog", 16.0, 7, 10.0, 7)
    [alert] = trend_alerts([grew], LIMITS)
    assert alert.key == "trend_quarantine_backlog" and alert.value == pytest.approx(60.0)


@pytest.mark.parametrize("change", [
    WeekOverWeek("team", "acme", "failed_24h", 15.0, 7, 10.0, 7),   # exactly 50 %
    WeekOverWeek("team", "acme", "failed_24h", 30.0, 3, 10.0, 7),   # too few days
    WeekOverWeek("team", "acme", "failed_24h", 30.0, 7, 0.0, 7),    # nothing last week
    WeekOverWeek("team", "acme", "failed_24h", 5.0, 7, 10.0, 7),    # fell
])
def test_no_trend_without_growth_history_or_enough_days(change):
    assert trend_alerts([change], LIMITS) == []


def test_all_alerts_come_most_severe_first_with_failures_included():
    found = daily_health_alerts(
        [team(quarantine_backlog=50)], [domain(ses_verified=False)],
        [CollectionFailure("Cleanbox", "globex", "key rejected")], LIMITS, {}, [],
    )
    assert [a.severity for a in found] == [Severity.CRITICAL, Severity.CRITICAL,
                                           Severity.WARNING]
    assert "collection_failed" in keys(found)


def test_thresholds_come_from_configuration():
    stricter = AlertThresholds(quarantine_backlog=100)
    assert team_alerts(team(quarantine_backlog=50), stricter) == []


def test_every_alert_names_the_team_or_domain_that_decides_its_shard():
    # Given a day on which every rule fires for team "a / b" and domain "x.example.com"
    sender = TopSender("bulk@spam.xyz", 80, "unset", None)
    found = daily_health_alerts(
        [team(team="a / b", quarantine_backlog=50, failed_count=9, usage_pct=95.0,
              top_senders=[sender])],
        [domain(name="x.example.com", ses_verified=False, bounce_rate=0.4)],
        [CollectionFailure("Cleanbox", "globex", "key rejected"),
         CollectionFailure("EmBoux", "down.example.com", "503")],
        LIMITS, {}, [WeekOverWeek("domain", "x.example.com", "bounce_rate", 3.0, 7, 1.0, 7)],
    )
    # Then each alert's owner is the team or domain it is about
    owners = {(a.key, alert_owner(a.key, a.subject)) for a in found}
    assert ("unset_high_volume_sender", "a / b") in owners
    assert ("quarantine_backlog", "a / b") in owners
    assert ("domain_unverified", "x.example.com") in owners
    assert ("trend_bounce_rate", "x.example.com") in owners
    assert ("collection_failed", "globex") in owners
    assert ("collection_failed", "down.example.com") in owners
    assert {o for _, o in owners} == {"a / b", "x.example.com", "globex", "down.example.com"}


def test_a_stored_days_failures_come_back_from_its_alerts():
    failures = [CollectionFailure("Cleanbox", "globex", "key rejected (401)"),
                CollectionFailure("EmBoux", "down.example.com", "server error 503")]
    alerts = daily_health_alerts([team()], [], failures, LIMITS, {}, [])
    assert failures_of(alerts) == failures


def test_most_severe_first_orders_by_severity_then_rule_then_subject():
    found = daily_health_alerts(
        [team(team="b", quarantine_backlog=50), team(team="a", quarantine_backlog=50)],
        [domain(ses_verified=False)], [], LIMITS, {}, [],
    )
    assert most_severe_first(list(reversed(found))) == found
