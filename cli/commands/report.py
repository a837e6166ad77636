"""`mailops report weekly`: the weekly trend report now."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import EXIT_CONFIG, JsonFlag, first_lines, output
from cli.commands import add_group, run_job
from mailops.report.escape import terminal_text
from mailops.report.numbers import number

if TYPE_CHECKING:  # pandas comes with it: imported when the command runs, not at start-up
    from mailops.report.weekly import WeeklyReportResult

MAX_LINES = 10


def register(app: typer.Typer) -> None:
    add_group(app, "report", "Reports from the trend store.",
              {"weekly": weekly})


def weekly(
    week: Annotated[
        str | None,
        typer.Option("--week", help="ISO week YYYY-Www (default: the last complete week)."),
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only this team.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write here (default: data/reports/weekly-YYYY-Www.FORMAT)."),
    ] = None,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Write the report, post no Slack digest.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Run weekly-report now: week over week, drifts, forecasts; to a file and Slack."""
    output.json = output.json or json_output  # failures too are one JSON object
    from mailops.report.weekly import parse_week

    if week is not None:
        try:
            parse_week(week)
        except ValueError as exc:
            output.fail(f"--week: {exc}", EXIT_CONFIG)
    if fmt not in ("md", "html", "json"):
        output.fail(f"--format must be one of md, html, json, not {fmt!r}", EXIT_CONFIG)
    outcome = run_job(
        "flows.weekly_report:weekly_report", week=week or "", team=team or "", format=fmt,
        out=str(out or ""), notify=not no_notify,
    )
    from mailops.report.weekly import WeeklyReportResult

    result = outcome.result if isinstance(outcome.result, WeeklyReportResult) else None
    output.finish(
        _summary(result), result or {}, error=None if outcome.ok else outcome.message,
        local_json=json_output,
    )


def _summary(result: WeeklyReportResult | None) -> str:
    """The run in a few lines: the counts, the file, the digest, the first crossings."""
    if result is not None and result.no_data:
        return f"weekly-report: {terminal_text(result.no_data)}; no report written."
    if result is None or result.report is None or not result.file:
        week = result.week if result is not None else None
        return f"weekly-report {week or ''}: no report written."
    report = result.report
    crossed, ahead = report.crossed, report.forecasts
    lines = [
        f"Weekly report {report.week} ({report.start.isoformat()} to "
        f"{report.end.isoformat()}): {len(report.teams)} teams, {len(report.domains)} "
        f"domains, {len(crossed)} thresholds already crossed, {len(ahead)} crossings ahead, "
        f"{len(report.drifts)} drifts; written to {terminal_text(result.file)}.",
    ]
    if result.notification:
        lines.append(f"Digest sent to {terminal_text(result.notification)}.")
    lines += first_lines(crossed, lambda forecast: (
        f"{terminal_text(forecast.subject)}: past its {forecast.label} "
        f"{number(forecast.threshold)} (now {number(forecast.current)})"), MAX_LINES)
    lines += first_lines(ahead, lambda forecast: (
        f"{terminal_text(forecast.subject)}: {forecast.label} {number(forecast.threshold)} "
        f"crossed {forecast.in_words()}"), MAX_LINES)
    lines += first_lines(report.drifts, lambda drift: (
        f"{terminal_text(drift.subject)}: {drift.metric} {drift.in_words()}"), MAX_LINES)
    return "\n".join(lines)
