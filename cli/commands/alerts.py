"""`mailops alerts setup`: the Slack alert on a failed or crashed run of a mailops deployment.

`mailops serve` sets the alert up itself; a deployment made with prefect.yaml (`prefect deploy
--all` onto the work pool) needs this command once after the deploy, and again after Slack's
settings change. The automation is Prefect's, so the Prefect UI's Automations page shows it
and switches it off (deployments/alerts.py builds it).
"""

from __future__ import annotations

import typer

from cli.app import EXIT_CONFIG, EXIT_FAILED, JsonFlag, output
from cli.commands import add_group, prefect_api
from mailops.errors import ConfigError, NotificationError
from mailops.settings import Settings, load_settings


def register(app: typer.Typer) -> None:
    add_group(app, "alerts", "The Slack alert on failed or crashed runs of the deployments.",
              {"setup": setup})


def setup(json_output: JsonFlag = False) -> None:
    """Create or update the Slack alert on failed or crashed runs (after `prefect deploy`).

    A Prefect automation posts every failed, timed-out or crashed run of a mailops deployment
    to Slack; `mailops serve` sets it up itself. Slack is MAILOPS_SLACK_WEBHOOK_URL, or
    MAILOPS_SLACK_BOT_TOKEN with MAILOPS_SLACK_CHANNEL; with neither, the automation set up
    earlier is removed. Running it again updates the one automation, leaving it switched off
    when someone switched it off in the Prefect UI.
    """
    output.json = output.json or json_output  # failures too are one JSON object
    try:
        settings = load_settings()
    except ConfigError as exc:
        output.fail(f"configuration error: {exc}", EXIT_CONFIG)
    from deployments.alerts import set_up

    with prefect_api(settings):
        try:
            done = set_up(settings)
        except NotificationError as exc:
            output.fail(str(exc), EXIT_FAILED)
    output.emit(done.summary(), done.data(), local_json=json_output)


def failure_alerts_line(settings: Settings) -> str:
    """Set the failure alert up for `mailops serve` and say in one line what came of it;
    never raises, so that serving goes on without alerts when the Prefect API refuses them."""
    from deployments.alerts import set_up

    try:
        return set_up(settings).summary()
    except NotificationError as exc:
        return f"Failure alerts are not set up: {exc}."
