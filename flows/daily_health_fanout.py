"""daily-health-fanout: daily-health split into n shards that run in parallel, one report.

Starts n runs of the `daily-health-shard` deployment (shard 1/n ... n/n, the same day and
collection instant, no report of their own) on whatever workers serve it, waits for them,
and posts one report built from what they stored. A shard that failed, or did not finish in
time, is named in the result and makes the run fail; the report still shows everything the
other shards stored, and the collection_failed alerts say which teams or domains are missing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Failed, State
from prefect.utilities.annotations import quote

import tasks.health as health_tasks
from flows.ending import end_with, stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import ConfigError, MailopsError
from mailops.health import FanoutResult, ShardOutcome
from mailops.rules.shard import Shard
from tasks.context import current_run_id, current_settings

SHARD_DEPLOYMENT = "daily-health/daily-health-shard"
WHOLE = Shard(1, 1)  # the merged report is about every shard's teams and domains


@run_form
@flow(name=jobs.DAILY_HEALTH_FANOUT, log_prints=False)
async def daily_health_fanout(
    shards: int = 2,
    day: date | None = None,
    as_of: datetime | None = None,
    notify: bool = True,
    teams: tuple[str, ...] = (),
) -> FanoutResult | State:
    """Run daily-health as parallel shard runs, then post one report merged from the store.

    Args:
        shards: How many runs of the daily-health-shard deployment share the teams and
            domains (1 to 1024), on whatever workers serve it.
        day: The day every shard stores its rows under; by default today in the operator's
            time zone.
        as_of: The collection instant every shard uses; by default now.
        notify: Post the merged Slack report.
        teams: Only these configured Cleanbox teams; empty collects every team.
    """
    logger = get_run_logger()
    try:
        parts = Shard.all_of(shards)
        settings = current_settings()
        as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
        day = day or as_of.astimezone(settings.zone).date()
        run_id = current_run_id()
        runs = await asyncio.gather(*(
            _run_shard(SHARD_DEPLOYMENT, part, run_id, day, as_of, teams,
                       settings.fanout.shard_timeout_seconds, settings.fanout.poll_seconds)
            for part in parts
        ))
        report = health_tasks.stored_report(day, as_of)
    except MailopsError as exc:
        logger.error("daily-health-fanout stopped: %s", exc)
        return Failed(message=stopped(exc))

    outcomes = [_outcome(part, run) for part, run in zip(parts, runs, strict=True)]
    health_tasks.publish_artifacts(quote(report))
    problems = [f"shard {o.shard} {o.state}: {o.message}" for o in outcomes if not o.completed]
    delivered = None
    if notify:
        delivered, error = health_tasks.notify(quote(report), WHOLE)
        if error is not None:
            problems.append(f"the report was not sent ({error}); the data is stored")
    result = FanoutResult(report, outcomes, delivered)
    logger.info(
        "daily-health-fanout %s: %d shards, %d teams, %d domains, %d alerts, %d problems",
        day, len(parts), len(report.teams), len(report.domains), len(report.alerts),
        len(problems),
    )
    return end_with(result, problems, logger)


async def _run_shard(
    deployment: str,
    part: Shard,
    parent_run_id: str,
    day: date,
    as_of: datetime,
    teams: tuple[str, ...],
    timeout_seconds: int,
    poll_seconds: float,
) -> FlowRun:
    """Start one shard's run and wait for it; a retried fan-out finds the run it started
    (the idempotency key), never a second one."""
    try:
        return await arun_deployment(
            deployment,
            parameters={"shard": str(part), "day": day.isoformat(), "as_of": as_of.isoformat(),
                        "notify": False, "teams": list(teams)},
            flow_run_name=f"daily-health-{day.isoformat()}-shard-{part.index}-of-{part.count}",
            idempotency_key=f"{parent_run_id}:shard:{part}",
            timeout=timeout_seconds,
            poll_interval=poll_seconds,
        )
    except ObjectNotFound:
        raise ConfigError(
            f"no deployment {deployment!r} on the Prefect server: deploy the jobs first "
            "(mailops serve, or prefect deploy --all)"
        ) from None


def _outcome(part: Shard, run: FlowRun) -> ShardOutcome:
    """What one shard's run ended with, in words for the result and the failure message."""
    state = run.state
    name = state.type.value if state is not None else "UNKNOWN"
    if state is None or not state.is_final():
        message = "did not finish in time; its teams and domains may be missing"
    else:
        message = state.message or ""
    return ShardOutcome(part, str(run.id), name, message)


if __name__ == "__main__":
    asyncio.run(daily_health_fanout())
