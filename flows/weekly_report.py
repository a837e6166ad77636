"""weekly-report: week over week, gradual drifts and forecasts from the trend tables, as a
file (markdown, HTML with charts, or JSON), a Prefect artifact, alerts and a Slack digest.

Reads the store only; the forecast alerts are stored before the digest is posted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

import tasks.report as report_tasks
from flows.ending import stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import ConfigError, MailopsError
from mailops.report.render_weekly import FORMATS
from mailops.report.weekly import (
    EmptyWeek,
    WeeklyReportResult,
    last_complete_week,
    parse_week,
)
from mailops.rules.report import week_without_data
from tasks.context import current_settings


@run_form
@flow(name=jobs.WEEKLY_REPORT, log_prints=False)
async def weekly_report(
    week: str = "",
    team: str = "",
    format: Literal["md", "html", "json"] = "md",
    out: str = "",
    notify: bool = True,
) -> WeeklyReportResult | State:
    """Report one ISO week's trends, drifts and forecasts as a file, an artifact and Slack.

    Args:
        week: The ISO week `YYYY-Www`; empty is the last complete week in the operator's
            time zone.
        team: Only this team (and the EmBoux domains whose partner_ref is its name); empty
            reports everything and stores the forecast alerts.
        format: The file's format: md, html (with charts) or json.
        out: The file to write; empty writes `<data dir>/reports/weekly-YYYY-Www.<format>`.
        notify: Post the Slack digest.
    """
    logger = get_run_logger()
    result = WeeklyReportResult(week or None, team or None, format)
    try:
        settings = current_settings()
        week = week or last_complete_week(datetime.now(UTC), settings.zone)
        result = replace(result, week=week)
        try:
            parse_week(week)
        except ValueError as exc:
            raise ConfigError(f"week: {exc}") from None
        if format not in FORMATS:
            raise ConfigError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        report = report_tasks.compute_report(week, team or None)
        if isinstance(report, EmptyWeek):
            return _without_data(result, report, settings.zone)
        if not team:
            report_tasks.store_forecast_alerts(report)
        path = report_tasks.write_report(report, format, out or None)
    except MailopsError as exc:
        logger.error("weekly-report stopped: %s", exc)
        return Failed(message=stopped(exc), data=result)

    report_tasks.publish_artifact(report, path)
    problems = []
    delivered = None
    if notify:
        delivered, error = report_tasks.notify(report, path)
        if error is not None:
            problems.append(f"the digest was not sent ({error}); the report is in {path}")
    logger.info(
        "weekly-report %s: %d teams, %d domains, %d drifts, %d crossed, %d ahead, "
        "written to %s", week, len(report.teams), len(report.domains), len(report.drifts),
        len(report.crossed), len(report.forecasts), path,
    )
    result = replace(result, report=report, file=path, notification=delivered)
    if problems:
        message = "; ".join(problems)
        logger.error(message)
        return Failed(message=message, data=result)
    return result


NOT_ENOUGH_DATA = "Not enough data"


def _without_data(result: WeeklyReportResult, empty: EmptyWeek, zone: ZoneInfo) -> State:
    """A week with no trend rows: before the store's first day, a Completed run named `Not
    enough data` that says when the first report is due; otherwise Failed, naming the gap."""
    logger = get_run_logger()
    verdict = week_without_data(empty.week, parse_week(empty.week)[0], empty.first,
                                empty.last, datetime.now(zone).date(), empty.team)
    result = replace(result, no_data=verdict.message)
    if verdict.failed:
        logger.error("weekly-report stopped: %s", verdict.message)
        return Failed(message=verdict.message, data=result)
    logger.info("weekly-report: %s", verdict.message)
    return Completed(name=NOT_ENOUGH_DATA, message=verdict.message, data=result)


if __name__ == "__main__":
    asyncio.run(weekly_report())
