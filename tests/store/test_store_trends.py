"""The history the alert rules read: 7-day send averages and week-over-week means."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailops.models.emboux import Outbound
from mailops.models.health import DomainHealth, TeamHealth

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
        any_store.trends.save_day(DAY - timedelta(days=back), AT, [], [domain(sent)])
    assert any_store.trends.send_averages(DAY, 7) == {"example.com": 200.0}


def test_week_over_week_compares_the_last_seven_days_with_the_seven_before(any_store):
    for back in range(14):
        backlog = 10 if back >= 7 else 16
        any_store.trends.save_day(DAY - timedelta(days=back), AT, [team(backlog)],
                                    [domain(100, 0.1 if back >= 7 else 0.2)])
    changes = {(c.subject, c.metric): c for c in any_store.trends.week_over_week(
        DAY, ["quarantine_backlog"], ["bounce_rate"])}
    backlog = changes[("acme", "quarantine_backlog")]
    assert (backlog.this_mean, backlog.this_days, backlog.last_mean, backlog.last_days) == (
        16.0, 7, 10.0, 7)
    assert changes[("example.com", "bounce_rate")].this_mean == pytest.approx(0.2)


def test_saving_a_day_again_replaces_the_top_senders(any_store):
    from mailops.models.health import TopSender

    first = TeamHealth("acme", 1, 10, 10.0, 1, 1, 1, 1, 0, 0, 0,
                       [TopSender(f"s{n}@x.com", 10 - n, "unset", None) for n in range(5)])
    second = TeamHealth("acme", 1, 10, 10.0, 1, 1, 1, 1, 0, 0, 0,
                        [TopSender("only@x.com", 9, "unset", None)])
    any_store.trends.save_day(DAY, AT, [first], [])
    any_store.trends.save_day(DAY, AT, [second], [])
    from sqlalchemy import select

    from mailops.store import team_top_senders

    with any_store.engine.connect() as conn:
        emails = conn.execute(select(team_top_senders.c.email)).scalars().all()
    assert emails == ["only@x.com"]


def test_a_stored_day_reads_back_as_it_was_collected(any_store):
    # Given a day with one team (with its top senders) and one domain
    from mailops.models.health import TopSender

    senders = [TopSender("a@x.com", 90, "unset", None), TopSender("b@y.com", 40, "blocked",
                                                                   "Shopping")]
    collected = TeamHealth("acme", 5, 10, 50.0, 1, 2, 3, 4, 7, 8, 9, senders)
    any_store.trends.save_day(DAY, AT, [collected], [domain(120, 0.25)])
    # When it is read back (what a fan-out's merged report is built from)
    teams, domains = any_store.trends.of_day(DAY)
    # Then it is what was collected, field for field
    assert teams == [collected]
    assert domains == [domain(120, 0.25)]
    assert any_store.trends.of_day(DAY - timedelta(days=1)) == ([], [])


def test_a_shards_alerts_replace_only_its_own_part_of_the_day(any_store):
    # Given the day's alerts of two parts of the work, "a" and "b"
    from mailops.rules.alerts import Alert, Severity

    def alert(subject: str, message: str = "old") -> Alert:
        return Alert("quarantine_backlog", Severity.WARNING, subject, message)

    any_store.alerts.save(DAY, "daily-health", [alert("a1"), alert("a2"), alert("b1")])
    # When part "a" stores what it found this time (a1 again, a2 gone)
    in_a = lambda key, subject: subject.startswith("a")  # noqa: E731
    any_store.alerts.save(DAY, "daily-health", [alert("a1", "new")], within=in_a)
    # Then part b's alert is kept, a's are replaced
    found = {(a.subject, a.message) for a in any_store.alerts.of_day(DAY, "daily-health")}
    assert found == {("a1", "new"), ("b1", "old")}


def test_strangers_long_text_is_kept_on_every_database(any_store):
    # Given an unset sender with a 5,000-character address and a long category (API text)
    from mailops.models.health import TopSender
    from mailops.rules.alerts import Alert, Severity

    address = "x" * 5_000 + "@long.example"
    sender = TopSender(address, 80, "unset", "c" * 400)
    # When its day and its alert are stored
    any_store.trends.save_day(DAY, AT, [TeamHealth("acme", 1, 10, 10.0, 1, 1, 1, 1, 0, 0, 0,
                                                   [sender])], [])
    any_store.alerts.save(DAY, "daily-health", [
        Alert("unset_high_volume_sender", Severity.WARNING, f"acme / {address}", "m")])
    # Then the row keeps it whole, and the alert's subject is cut to its column, marked
    [team], _ = any_store.trends.of_day(DAY)
    assert team.top_senders == [sender]
    [alert] = any_store.alerts.of_day(DAY)
    assert len(alert.subject) == 512 and alert.subject.startswith("acme / xxx")
    assert alert.subject.endswith("…")
