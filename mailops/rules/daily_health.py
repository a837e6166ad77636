"""The daily-health alert rules: the monitoring guide's four, EmBoux's outbound risks, trends.

The four: docs/cleanbox-api.md#monitoring-guide; the outbound risks: docs/emboux-api.md
(#anti-spam-layers, #suspension-thresholds).

Pure functions of the collected figures, the stored history and the thresholds. Messages
are plain text; whoever shows them escapes them (they can contain sender addresses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailops.models.health import CollectionFailure, DomainHealth, TeamHealth
from mailops.rules.alerts import Alert, Severity
from mailops.settings import AlertThresholds

_SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
FAILED = "collection_failed"
_NOT_COLLECTED = "Not collected: "
_SENDER_SEPARATOR = " / "  # between team and sender in a sender alert's subject


@dataclass(frozen=True)
class WeekOverWeek:
    """A metric's daily mean over the last 7 days against the 7 days before."""

    scope: str  # "team" or "domain"
    subject: str
    metric: str
    this_mean: float
    this_days: int
    last_mean: float
    last_days: int


def team_alerts(team: TeamHealth, limits: AlertThresholds) -> list[Alert]:
    """The monitoring guide's four checks for one team (docs/cleanbox-api.md#monitoring-guide)."""
    found = []
    if team.weekly_limit > 0 and team.usage_pct >= limits.weekly_usage_pct:
        found.append(Alert(
            "weekly_usage",
            Severity.CRITICAL if team.usage_pct >= 100 else Severity.WARNING,
            team.team,
            f"Weekly quota at {team.usage_pct:g}% ({team.weekly_used}/{team.weekly_limit})",
            team.usage_pct,
            limits.weekly_usage_pct,
        ))
    if team.quarantine_backlog > limits.quarantine_backlog:
        found.append(Alert(
            "quarantine_backlog", Severity.WARNING, team.team,
            f"{team.quarantine_backlog} messages in quarantine awaiting review",
            team.quarantine_backlog, limits.quarantine_backlog,
        ))
    if team.failed_count > limits.failed_messages:
        found.append(Alert(
            "delivery_failures", Severity.WARNING, team.team,
            f"{team.failed_count} delivery failures in 24 hours - check mailbox connectivity",
            team.failed_count, limits.failed_messages,
        ))
    for sender in team.top_senders:
        if sender.state == "unset" and sender.count > limits.unset_sender_emails:
            found.append(Alert(
                "unset_high_volume_sender", Severity.WARNING,
                f"{team.team}{_SENDER_SEPARATOR}{sender.email}",
                f"High-volume unset contact: {sender.email} ({sender.count} emails)",
                sender.count, limits.unset_sender_emails,
            ))
    return found


def domain_alerts(
    domain: DomainHealth, limits: AlertThresholds, send_average: float | None
) -> list[Alert]:
    """EmBoux risks for one domain; `send_average` is its recent daily mean, if known."""
    out = domain.outbound
    found = []
    if out.outbound_status == "suspended":
        found.append(Alert(
            "domain_suspended", Severity.CRITICAL, out.name,
            f"Outbound suspended (bounce rate {out.bounce_rate:g}%, "
            f"complaint rate {out.complaint_rate:g}%)",
        ))
    if not out.ses_verified:
        found.append(Alert(
            "domain_unverified", Severity.CRITICAL, out.name,
            "Not verified with the mail provider: its outbound mail is rejected",
        ))
    for key, rate, threshold, what in (
        ("bounce_rate_near_suspension", out.bounce_rate, limits.bounce_rate_suspension_pct,
         "Bounce"),
        ("complaint_rate_near_suspension", out.complaint_rate,
         limits.complaint_rate_suspension_pct, "Complaint"),
    ):
        warn_at = threshold * limits.suspension_warning_fraction
        if out.outbound_status != "suspended" and rate >= warn_at:
            found.append(Alert(
                key, Severity.WARNING, out.name,
                f"{what} rate {rate:g}% is {100 * rate / threshold:.0f}% of the "
                f"{threshold:g}% suspension threshold",
                rate, warn_at,
            ))
    if out.outbound_daily_limit > 0:
        used_pct = 100 * out.outbound_sent_today / out.outbound_daily_limit
        if used_pct >= limits.daily_limit_pct:
            found.append(Alert(
                "daily_limit", Severity.WARNING, out.name,
                f"Sent {out.outbound_sent_today} of its daily limit of "
                f"{out.outbound_daily_limit} ({used_pct:.0f}%)",
                used_pct, limits.daily_limit_pct,
            ))
    if send_average is not None and send_average > 0:
        ratio = out.outbound_sent_today / send_average
        if ratio > limits.spike_multiplier:
            found.append(Alert(
                "send_spike", Severity.WARNING, out.name,
                f"Sent {out.outbound_sent_today} today, {ratio:.1f}x its "
                f"{limits.spike_history_days}-day average of {send_average:.0f}",
                ratio, limits.spike_multiplier,
            ))
    return found


def trend_alerts(changes: Sequence[WeekOverWeek], limits: AlertThresholds) -> list[Alert]:
    """Metrics whose weekly mean grew by more than the configured percentage."""
    found = []
    for change in changes:
        if min(change.this_days, change.last_days) < limits.trend_min_days:
            continue
        if change.last_mean <= 0 or change.this_mean <= change.last_mean:
            continue
        growth = 100 * (change.this_mean - change.last_mean) / change.last_mean
        if growth > limits.trend_growth_pct:
            found.append(Alert(
                f"trend_{change.metric}", Severity.INFO, change.subject,
                f"{change.metric.replace('_', ' ')} up {growth:.0f}% week over week "
                f"(daily mean {change.last_mean:.4g} -> {change.this_mean:.4g})",
                growth, limits.trend_growth_pct,
            ))
    return found


def failure_alerts(failures: Sequence[CollectionFailure]) -> list[Alert]:
    """A team or domain that could not be collected is itself an alert."""
    return [
        Alert(FAILED, Severity.CRITICAL, f"{f.api} {f.subject}", f"{_NOT_COLLECTED}{f.message}")
        for f in failures
    ]


def failures_of(alerts: Sequence[Alert]) -> list[CollectionFailure]:
    """The collection failures behind a stored day's `collection_failed` alerts."""
    found = []
    for alert in alerts:
        if alert.key == FAILED:
            api, _, subject = alert.subject.partition(" ")
            message = alert.message.removeprefix(_NOT_COLLECTED)
            found.append(CollectionFailure(api, subject, message))
    return found


def alert_owner(key: str, subject: str) -> str:
    """The team or domain an alert of these rules is about: what decides its shard."""
    if key == FAILED:
        return subject.partition(" ")[2]
    if key == "unset_high_volume_sender":
        return subject.rpartition(_SENDER_SEPARATOR)[0] or subject
    return subject


def daily_health_alerts(
    teams: Sequence[TeamHealth],
    domains: Sequence[DomainHealth],
    failures: Sequence[CollectionFailure],
    limits: AlertThresholds,
    send_averages: Mapping[str, float],
    changes: Sequence[WeekOverWeek],
) -> list[Alert]:
    """Every alert of the day, the most severe first."""
    found = failure_alerts(failures)
    for team in teams:
        found.extend(team_alerts(team, limits))
    for domain in domains:
        found.extend(domain_alerts(domain, limits, send_averages.get(domain.name)))
    found.extend(trend_alerts(changes, limits))
    return most_severe_first(found)


def most_severe_first(alerts: Sequence[Alert]) -> list[Alert]:
    """Critical, then warnings, then information; by rule and subject within each."""
    return sorted(alerts, key=lambda a: (_SEVERITY_ORDER[a.severity], a.key, a.subject))
