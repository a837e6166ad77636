"""Tasks of daily-health: collect, store (or spool), derive alerts, publish, notify."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from mailops import jobs
from mailops.cleanbox import CleanboxClient
from mailops.emboux import EmbouxClient
from mailops.errors import MailopsError
from mailops.health import (
    Collected,
    CollectedDay,
    HealthReport,
    collect_domains,
    collect_teams,
)
from mailops.jsonable import from_jsonable, to_jsonable
from mailops.report.escape import markdown_text, visible_values
from mailops.report.slack import SlackNotifier, daily_health_message
from mailops.rules.alerts import Alert, Severity
from mailops.rules.daily_health import (
    alert_owner,
    daily_health_alerts,
    failures_of,
    most_severe_first,
)
from mailops.rules.shard import Shard
from mailops.spool_import import SpoolImport
from mailops.store import Store
from tasks.context import (
    configured_teams,
    current_run_id,
    current_settings,
    outbox_name,
    shard_label,
)
from tasks.define import task
from tasks.spool import import_pending, spool_folder

JOB = jobs.DAILY_HEALTH
SPOOL_VERSION = 2  # the shape of a spooled day; an import refuses any other but 1
# Version 1 named a team's quarantine backlog `quarantine_pending`; 2 names it as the store does.
V1_RENAMED = {"quarantine_pending": "quarantine_backlog"}
# Posting a long artifact costs the run more than the alerts are worth in the UI (BENCHMARKS.md).
MAX_ARTIFACT_ALERTS = 100


@task(retries=1, retry_delay_seconds=5)
async def collect_cleanbox(
    team_names: list[str] | None, as_of: datetime, shard: Shard
) -> Collected:
    """Collect every selected Cleanbox team of the shard at once (failures kept per team)."""
    settings = current_settings(shard)
    teams = shard.select(configured_teams(settings, team_names), lambda t: t.name)
    if not teams:
        return Collected()
    async with CleanboxClient.from_settings(settings) as client:
        return await collect_teams(client, teams, as_of, settings.alerts.top_senders)


@task(retries=1, retry_delay_seconds=5)
async def collect_emboux(shard: Shard) -> Collected:
    """Collect every EmBoux domain of the shard that the configured token sees (failures
    kept per domain)."""
    settings = current_settings(shard)
    if settings.emboux_api_key is None:
        return Collected()
    async with EmbouxClient.from_settings(settings) as client:
        return await collect_domains(client, None if shard.whole else lambda d: shard.owns(d.name))


@task(retries=3, retry_delay_seconds=[1, 5, 15])
def store_day(collected: CollectedDay) -> None:
    """Write the day's rows; a re-run of the same day replaces them."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        store.trends.save_day(collected.day, collected.as_of, collected.teams, collected.domains)


@task(retries=2, retry_delay_seconds=[1, 5])
def derive_alerts(collected: CollectedDay) -> list[Alert]:
    """Apply the alert rules to the day and its stored history, and store the alerts (a
    shard's replace only the earlier alerts about its own teams and domains)."""
    with Store(current_settings().database_url) as store:
        return _store_alerts(store, collected)


def _store_alerts(store: Store, collected: CollectedDay) -> list[Alert]:
    limits = current_settings().alerts
    day, part = collected.day, collected.shard
    averages = store.trends.send_averages(day, limits.spike_history_days)
    changes = store.trends.week_over_week(
        day, limits.trend_team_metrics, limits.trend_domain_metrics
    )
    changes = [change for change in changes if part.owns(change.subject)]
    found = daily_health_alerts(
        collected.teams, collected.domains, collected.failures, limits, averages, changes
    )
    store.alerts.save(day, JOB, found, within=None if part.whole else _about(part))
    return found


def alerts_without_store(collected: CollectedDay, store_problem: str) -> list[Alert]:
    """The day's alerts when the store cannot be read: every rule but those needing history
    (send spikes against the 7-day average, week-over-week trends), plus a critical alert
    saying the day is not stored (a pure function: no task, nothing to retry)."""
    found = daily_health_alerts(
        collected.teams, collected.domains, collected.failures, current_settings().alerts, {}, []
    )
    return [Alert("store_unavailable", Severity.CRITICAL, "trend store", store_problem),
            *found]


# --- the spool: a day the store could not take --------------------------------------------


@task(retries=2, retry_delay_seconds=[1, 5])
def spool_day(collected: CollectedDay) -> str:
    """Keep a collected day the store could not take in a spool file; returns its path.
    The typed objects become JSON here, and come back in `import_spooled_days`."""
    run_id = current_run_id()
    payload = {"version": SPOOL_VERSION, "job": JOB, "run_id": run_id,
               **to_jsonable(collected)}
    key = f"{collected.day.isoformat()}-{shard_label(collected.shard)}-{run_id}"
    return str(spool_folder().write(JOB, key, payload))


def _import_day(store: Store, payload: dict[str, Any]) -> None:
    """Store one spooled day as its run would have: its rows (replacing the day's), then its
    alerts derived against the stored history (replacing the shard's of that day)."""
    if payload.get("version") not in (1, SPOOL_VERSION) or payload.get("job") != JOB:
        raise ValueError(f"not a {JOB} spool of version 1 or {SPOOL_VERSION}")
    fields = {key: value for key, value in payload.items() if key != "shard"}
    collected = replace(
        from_jsonable(CollectedDay, {**fields, "teams": _teams_of(payload)}),
        shard=Shard.parse(payload["shard"]),
    )
    store.trends.save_day(collected.day, collected.as_of, collected.teams, collected.domains)
    _store_alerts(store, collected)


def _teams_of(payload: dict[str, Any]) -> list[Any]:
    """The spooled teams in the current version's keys (a version 1 file's renamed)."""
    if payload["version"] != 1:
        return list(payload["teams"])
    return [{V1_RENAMED.get(key, key): value for key, value in team.items()}
            for team in payload["teams"]]


@task()
def import_spooled_days() -> SpoolImport:
    """Import every day spooled by earlier runs, oldest first, before collecting: a store
    that still fails leaves them waiting and a file that cannot be read is left with a
    warning; neither stops the run."""
    return import_pending(JOB, _import_day)


@task(retries=2, retry_delay_seconds=[1, 5])
def stored_report(day: date, as_of: datetime) -> HealthReport:
    """The day's report from what the store holds: the teams, domains and alerts every
    shard stored (the fan-out's merged report)."""
    with Store(current_settings().database_url) as store:
        teams, domains = store.trends.of_day(day)
        alerts = most_severe_first(store.alerts.of_day(day, JOB))
    return HealthReport(day, as_of, teams, domains, alerts, failures_of(alerts))


def _about(part: Shard) -> Callable[[str, str], bool]:
    """Whether an alert (key, subject) is about a team or domain of the shard."""
    return lambda key, subject: part.owns(alert_owner(key, subject))


@task()
def publish_artifacts(report: HealthReport) -> None:
    """Show the day's metrics and alerts in the Prefect UI."""
    create_table_artifact(
        key="daily-health-teams",
        table=visible_values([
            {k: v for k, v in to_jsonable(team).items() if k != "top_senders"}
            for team in report.teams
        ]),
        description=f"Cleanbox teams on {report.day.isoformat()}",
    )
    lines = [f"# Daily health {report.day.isoformat()}", ""]
    if report.alerts:
        lines += ["| severity | alert | subject | message |", "|---|---|---|---|"]
        lines += [
            f"| {a.severity.value} | {a.key} | {markdown_text(a.subject)} | "
            f"{markdown_text(a.message)} |"
            for a in report.alerts[:MAX_ARTIFACT_ALERTS]
        ]
        if len(report.alerts) > MAX_ARTIFACT_ALERTS:
            hidden = len(report.alerts) - MAX_ARTIFACT_ALERTS
            lines += ["", f"...and {hidden} more, most severe first, in the `alerts` table."]
    else:
        lines.append("No alerts: everything looks healthy.")
    create_markdown_artifact(
        key="daily-health-alerts",
        markdown="\n".join(lines),
        description=f"{len(report.alerts)} alerts on {report.day.isoformat()}",
    )


@task()
def notify(report: HealthReport, shard: Shard) -> tuple[str | None, str | None]:
    """Post the day's report to Slack (or the outbox file): (where it went, or why not).

    slack-sdk's retry handlers retry rate limits, server errors and lost connections; a
    failure after them is returned, not raised, since the data is already stored.
    """
    try:
        notifier = SlackNotifier.from_settings(current_settings())
        delivery = notifier.post(
            daily_health_message(report),
            name=outbox_name(JOB, report.day.isoformat(), shard_label(shard)),
        )
    except MailopsError as exc:
        return None, str(exc)
    return delivery.describe(), None
