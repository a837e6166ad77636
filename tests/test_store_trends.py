"""The history the alert rules read: 7-day send averages and week-over-week means."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailops.emboux import Outbound
from mailops.health import DomainHealth, TeamHealth

DAY = date(2026, 10, 20)
AT = datetime(2026, 10, 20, 8, tzinfo=UTC)


def domain(sent: int, bounce_rate: float = 0.0) -> DomainHealth:
    return DomainHealth(Outbound(
        name="example.com", outbound_tier="shared", outbound_status="active",
        outbound_daily_limit=0, outbound_monthly_limit=0, outbound_sent_today=sent,
        outbound_sent_month=sent, outbound_enforcement="hard", bounce_count=0,
        complaint_count=0, bounce_rate=bounce_rate, complaint_rate=0.0, ses_verified=True,
        warmup_profile="standard", spike_max_multiplier=5.0), "p1")


def team(backlog: int) -> TeamHealth:
    return TeamHealth("acme", 1, 10, 10.0, 1, 1, 1, 1, backlog, 0, 0, [])


def test_send_average_covers_only_the_days_before(any_store):
    for back, sent in [(8, 1000), (3, 100), (2, 200), (1, 300), (0, 5000)]:
        any_store.save_health_day(DAY - timedelta(days=back), AT, [], [domain(sent)])
    assert any_store.send_averages(DAY, 7) == {"example.com": 200.0}


def test_week_over_week_compares_the_last_seven_days_with_the_seven_before(any_store):
    for back in range(14):
        backlog = 10 if back >= 7 else 16
        any_store.save_health_day(DAY - timedelta(days=back), AT, [team(backlog)],
                                    [domain(100, 0.1 if back >= 7 else 0.2)])
    changes = {(c.subject, c.metric): c for c in any_store.week_over_week(
        DAY, ["quarantine_backlog"], ["bounce_rate"])}
    backlog = changes[("acme", "quarantine_backlog")]
    assert (backlog.this_mean, backlog.this_days, backlog.last_mean, backlog.last_days) == (
        16.0, 7, 10.0, 7)
    assert changes[("example.com", "bounce_rate")].this_mean == pytest.approx(0.2)


def test_saving_a_day_again_replaces_the_top_senders(any_store):
    from mailops.health import TopSender

    first = TeamHealth("acme", 1, 10, 10.0, 1, 1, 1, 1, 0, 0, 0,
                       [TopSender(f"s{n}@x.com", 10 - n, "unset", None) for n in range(5)])
    second = TeamHealth("acme", 1, 10, 10.0, 1, 1, 1, 1, 0, 0, 0,
                        [TopSender("only@x.com", 9, "unset", None)])
    any_store.save_health_day(DAY, AT, [first], [])
    any_store.save_health_day(DAY, AT, [second], [])
    from sqlalchemy import select

    from mailops.store import team_top_senders

    with any_store.engine.connect() as conn:
        emails = conn.execute(select(team_top_senders.c.email)).scalars().all()
    assert emails == ["only@x.com"]
