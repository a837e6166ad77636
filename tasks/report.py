"""Tasks of weekly-report: load and compute, store the forecast alerts, write the file,
publish the artifact, post the digest."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from mailops import jobs
from mailops.errors import MailopsError, NotificationError, StoreError
from mailops.report.render_weekly import as_text, render_summary, summary_line
from mailops.report.slack import SlackNotifier, weekly_report_message
from mailops.report.weekly import (
    JOB,
    EmptyWeek,
    NoReportData,
    WeeklyReport,
    build_report,
    parse_week,
)
from mailops.store import Store
from tasks.context import current_settings, outbox_name
from tasks.define import task

MAX_ARTIFACT_CHARS = 200_000


def _only_store_errors(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a locked or unreachable database, nothing else."""
    return isinstance(state.data, StoreError)


@task(retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_only_store_errors)
def compute_report(week: str, team: str | None) -> WeeklyReport | EmptyWeek:
    """Load the weeks the report needs (one query per table) and compute it; a week without
    trend data is an answer (EmptyWeek), not a failure of the task."""
    settings = current_settings()
    options = settings.report
    monday, sunday = parse_week(week)
    first_day = min(
        monday - timedelta(weeks=options.history_weeks - 1),
        monday - timedelta(weeks=options.forecast_weeks - 1),
        sunday - timedelta(days=options.forecast_days - 1),
    )
    zone = settings.zone
    since = datetime.combine(monday, time(), zone)
    until = datetime.combine(sunday + timedelta(days=1), time(), zone)
    with Store(settings.database_url) as store:
        store.upgrade()
        frames = store.trends.report_frames(first_day, monday, sunday, since, until)
        try:
            return build_report(
                week, frames.teams, frames.domains, frames.alerts, frames.audit, options,
                team=team,
            )
        except NoReportData:
            return EmptyWeek(week, team, *store.trends.span())


@task(retries=2, retry_delay_seconds=[1, 5])
def store_forecast_alerts(report: WeeklyReport) -> int:
    """Store the forecast alerts under the week's last day; a re-run replaces them."""
    with Store(current_settings().database_url) as store:
        return store.alerts.save(report.end, JOB, report.alerts)


def default_path(week: str, fmt: str, team: str | None) -> Path:
    """`<data dir>/reports/weekly-YYYY-Www.<ext>` (a team's report gets `-<team>`)."""
    suffix = ""
    if team is not None:
        suffix = "-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in team)
    return Path(current_settings().data_dir) / "reports" / f"weekly-{week}{suffix}.{fmt}"


@task()
def write_report(report: WeeklyReport, fmt: str, out: str | None) -> str:
    """Render the report in `fmt` and write it to `out` (or the default path)."""
    path = Path(out) if out else default_path(report.week, fmt, report.team_filter)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(as_text(report, fmt), encoding="utf-8")
    except OSError as exc:
        raise MailopsError(f"cannot write the report to {path}: {exc.strerror}") from None
    return str(path)


@task()
def publish_artifact(report: WeeklyReport, location: str) -> None:
    """The report's summary as a markdown artifact in the Prefect UI; the whole report is
    the file at `location`."""
    markdown = render_summary(report, location, current_settings().report.artifact_rows)
    if len(markdown) > MAX_ARTIFACT_CHARS:
        markdown = markdown[:MAX_ARTIFACT_CHARS] + f"\n\n(cut: the file {location} holds it)"
    create_markdown_artifact(
        key=jobs.WEEKLY_REPORT, markdown=markdown,
        description=f"{report.week}: {summary_line(report)}",
    )


@task()
def notify(report: WeeklyReport, location: str) -> tuple[str | None, str | None]:
    """Post the digest to Slack (or the outbox file): (where it went, or why not)."""
    try:
        notifier = SlackNotifier.from_settings(current_settings())
        delivery = notifier.post(
            weekly_report_message(report, location=location),
            name=outbox_name(JOB, report.week),
        )
    except NotificationError as exc:
        return None, str(exc)
    return delivery.describe(), None
