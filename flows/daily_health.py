"""daily-health: collect every team and domain, store the day, alert, report to Slack.

Stores before notifying, so a Slack failure loses nothing and the report can be sent again.
A store that cannot be written loses nothing either: the collected day goes to a spool file
(`<data>/spool/daily-health-<day>-<shard>-<run id>.json`), the report is still sent, the run
fails naming both, and the next run with a working store imports the spool first.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from logging import Logger, LoggerAdapter
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State
from prefect.utilities.annotations import quote

import tasks.health as health_tasks
from flows.ending import end_with, stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import ConfigError, MailopsError, StoreError
from mailops.health import CollectedDay, DailyHealthResult, HealthReport
from mailops.rules.alerts import Alert
from mailops.rules.shard import Shard
from tasks.context import configured_teams, current_settings


@run_form
@flow(name=jobs.DAILY_HEALTH, log_prints=False)
async def daily_health(
    teams: tuple[str, ...] = (),
    day: date | None = None,
    as_of: datetime | None = None,
    notify: bool = True,
    shard: str = "",
) -> DailyHealthResult | State:
    """Collect Cleanbox teams and EmBoux domains into the trend tables and post one report.

    Args:
        teams: Only these configured Cleanbox teams; empty collects every team.
        day: The day the rows are stored under; by default today in the operator's time zone.
        as_of: The collection instant, which ends the 24-hour window of failed and denied
            counts; by default now.
        notify: Post the Slack report.
        shard: `i/n` collects only the teams and domains of shard i of n (daily-health-fanout
            starts the n shards and posts their merged report); empty collects everything.
    """
    logger = get_run_logger()
    try:
        part = Shard.parse(shard)
        settings = current_settings()
        names = [team.name for team in configured_teams(settings, teams)]
        if not names and settings.emboux_api_key is None:
            raise ConfigError(
                "nothing to collect: set MAILOPS_CLEANBOX_API_KEY (or list teams in "
                "mailops.toml) and/or MAILOPS_EMBOUX_API_KEY"
            )
        as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
        day = day or as_of.astimezone(settings.zone).date()
        spooled_before = health_tasks.import_spooled_days()
        cleanbox, emboux = await asyncio.gather(
            health_tasks.collect_cleanbox(names, as_of, part),
            health_tasks.collect_emboux(part),
        )
        failures = cleanbox.failures + emboux.failures
        collected = CollectedDay(day, as_of, cleanbox.teams, emboux.domains, failures, part)
        alerts, store_problem, spool_file = _store_or_spool(collected, logger)
    except MailopsError as exc:
        logger.error("daily-health stopped: %s", exc)
        return Failed(message=stopped(exc))

    report = HealthReport(day, as_of, cleanbox.teams, emboux.domains, alerts, failures)
    health_tasks.publish_artifacts(quote(report))
    problems = [f"{f.api} {f.subject}: {f.message}" for f in failures]
    if store_problem is not None:
        problems.insert(0, store_problem)
    delivered = None
    if notify:
        delivered, error = health_tasks.notify(quote(report), part)
        if error is not None:
            kept = "kept in the spool" if store_problem else "stored"
            problems.append(f"the report was not sent ({error}); the data is {kept}")
    result = DailyHealthResult(report, part, spooled_before, spool_file, delivered)
    if spooled_before.describe():
        logger.info("daily-health: %s", spooled_before.describe())
    logger.info(
        "daily-health %s (shard %s): %d teams, %d domains, %d alerts, %d problems",
        day, part, len(report.teams), len(report.domains), len(alerts), len(problems),
    )
    return end_with(result, problems, logger)


def _store_or_spool(
    collected: CollectedDay, logger: Logger | LoggerAdapter[Any]
) -> tuple[list[Alert], str | None, str | None]:
    """Store the day and its alerts; when the store cannot be written after the tasks'
    retries, keep the day in a spool file instead (the next run imports it) and derive the
    alerts without history. Returns (alerts, the store problem, the spool file)."""
    try:
        health_tasks.store_day(quote(collected))
        alerts = health_tasks.derive_alerts(quote(collected))
    except StoreError as exc:
        spool_file = health_tasks.spool_day(quote(collected))
        problem = (f"the store could not be written ({exc}); the collected day is kept in "
                   f"{spool_file}, which the next run with a working store imports")
        logger.error("daily-health: %s", problem)
        return health_tasks.alerts_without_store(collected, problem), problem, spool_file
    return alerts, None, None


if __name__ == "__main__":
    asyncio.run(daily_health())
