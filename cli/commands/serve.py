"""`mailops serve`: every job's deployment, with its schedule, served from one process."""

from __future__ import annotations

import typer

from cli.app import EXIT_CONFIG, output
from mailops.errors import ConfigError
from mailops.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_jobs)


def serve_jobs() -> None:
    """Serve every job to the Prefect server (PREFECT_API_URL) until stopped with Ctrl-C.

    Schedules run in this process; the Prefect UI shows each deployment, its next runs, and a
    Run button with a parameter form. Stopping the process pauses the schedules. First it
    sets up the Slack alert on a failed or crashed run (`mailops alerts setup`) and says in
    one line whether failure alerts are on.
    """
    try:
        settings = load_settings()
    except ConfigError as exc:
        output.fail(f"configuration error: {exc}", EXIT_CONFIG)
    from prefect import serve

    from cli.commands.alerts import failure_alerts_line
    from deployments.build import build_deployments

    deployments = build_deployments(settings.timezone)
    typer.echo(failure_alerts_line(settings))
    serve(*deployments)
