"""daily-health: collect every team and domain, store the day, alert, report to Slack.

Stores before notifying, so a Slack failure loses nothing and the report can be sent again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State
from prefect.utilities.annotations import quote

import tasks.health as health_tasks
from flows.ending import end_with
from mailops.errors import ConfigError, MailopsError
from mailops.health import HealthReport
from mailops.rules.shard import Shard
from tasks.context import configured_teams, current_settings


@flow(name="daily-health", log_prints=False)
async def daily_health(
    teams: list[str] | None = None,
    day: date | None = None,
    as_of: datetime | None = None,
    notify: bool = True,
    shard: str | None = None,
) -> dict[str, Any] | State:
    """Collect Cleanbox teams and EmBoux domains into the trend tables and post one report.

    teams: only these configured teams (all when empty). day: the row's day (today in the
    operator's time zone by default). as_of: the collection instant that ends the 24-hour
    window of failed and denied counts (now by default). notify: post the Slack report.
    shard: `i/n` to collect only the teams and domains of shard i of n (all when empty);
    daily-health-fanout starts the n shards and posts their merged report.
    """
    logger = get_run_logger()
    try:
        part = Shard.parse(shard)
        settings = current_settings()
        teams = [team.name for team in configured_teams(settings, teams)]
        if not teams and settings.emboux_api_key is None:
            raise ConfigError(
                "nothing to collect: set MAILOPS_CLEANBOX_API_KEY (or list teams in "
                "mailops.toml) and/or MAILOPS_EMBOUX_API_KEY"
            )
        as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
        day = day or as_of.astimezone(settings.zone).date()
        cleanbox, emboux = await asyncio.gather(
            health_tasks.collect_cleanbox(teams, as_of, str(part)),
            health_tasks.collect_emboux(str(part)),
        )
        failures = cleanbox.failures + emboux.failures
        health_tasks.store_day(day, as_of, quote(cleanbox.teams), quote(emboux.domains))
        alerts = health_tasks.derive_alerts(
            day, quote(cleanbox.teams), quote(emboux.domains), failures, str(part)
        )
    except MailopsError as exc:
        logger.error("daily-health stopped: %s", exc)
        return Failed(message=str(exc))

    report = HealthReport(day, as_of, cleanbox.teams, emboux.domains, alerts, failures)
    result = report.as_json()
    health_tasks.publish_artifacts(quote(report))
    problems = [f"{f.api} {f.subject}: {f.message}" for f in failures]
    if notify:
        delivered, error = health_tasks.notify(quote(report), str(part))
        result["notification"] = delivered
        if error is not None:
            problems.append(f"the report was not sent ({error}); the data is stored")
    result["shard"] = str(part)
    logger.info(
        "daily-health %s (shard %s): %d teams, %d domains, %d alerts, %d problems",
        day, part, len(report.teams), len(report.domains), len(alerts), len(problems),
    )
    return end_with(result, problems, logger)


if __name__ == "__main__":
    asyncio.run(daily_health())
