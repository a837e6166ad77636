"""`mailops health`: run daily-health now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from cli.app import JsonFlag, first_lines, output
from cli.commands import ShardOption, TeamsOption, job_result, parse_shard
from mailops.health import DailyHealthResult
from mailops.report.escape import terminal_text
from mailops.rules.alerts import Severity

MAX_ALERT_LINES = 15


def register(app: typer.Typer) -> None:
    app.command("health")(health)


def health(
    team: TeamsOption = None,
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="The day to store the rows under."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="ISO 8601 instant ending the 24-hour window (default: now)."
        ),
    ] = None,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Store and alert, but post no report.")
    ] = False,
    shard: ShardOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Run daily-health now: collect, store, alert and report."""
    output.json = output.json or json_output  # a bad --shard too is one JSON object
    part = parse_shard(shard)
    result, error = job_result(
        DailyHealthResult, "flows.daily_health:daily_health", json_output=json_output,
        as_of=as_of, teams=tuple(team or ()), day=day.date() if day else None,
        notify=not no_notify, shard=part or "",
    )
    output.finish(_summary(result), result or {}, error=error, local_json=json_output)


def _summary(result: DailyHealthResult | None) -> str:
    """The run in a few lines: counts, the spool, where the report went, the first alerts."""
    if result is None:
        return "daily-health collected nothing."
    report = result.report
    alerts = report.alerts
    critical = sum(alert.severity is Severity.CRITICAL for alert in alerts)
    lines = [
        f"Daily health {report.day.isoformat()}: {len(report.teams)} teams and "
        f"{len(report.domains)} domains collected, {len(alerts)} alerts "
        f"({critical} critical).",
    ]
    spool = result.spooled_before
    if spool.imported:
        lines.append(f"Imported {len(spool.imported)} spooled day(s) first: "
                     + ", ".join(spool.imported) + ".")
    for line in spool.unreadable:
        lines.append(f"Spool file left in place, it cannot be imported: {terminal_text(line)}")
    if result.spool_file:
        lines.append(f"Not stored (the store failed): the day is kept in {result.spool_file}.")
    if result.notification:
        lines.append(f"Report sent to {result.notification}.")
    lines += first_lines(alerts, lambda alert: (
        f"{alert.severity.value:<8} {terminal_text(alert.subject)}: "
        f"{terminal_text(alert.message)}"), MAX_ALERT_LINES)
    return "\n".join(lines)
