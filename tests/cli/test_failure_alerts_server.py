"""The failure alert end to end, against a real Prefect server: `mailops alerts setup` (twice:
one automation), a mailops deployment served as `mailops serve` serves it, a run of it that
fails, and the alert in the sandbox's Slack stand-in; the webhook URL in no log, no event,
no stored row.

The server is Prefect's API app in a process of the module's own (as prefect_test_harness
starts it: ephemeral, so the event services that evaluate triggers and run actions run, and
nothing else), with its log at INFO in a file the test reads, its SQLite database in a
temporary folder the test greps, and PREFECT_UI_URL set so that the alert links the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from fixtures_prefect import serve_in_thread
from typer.testing import CliRunner

from deployments.alerts import AUTOMATION_NAME, BLOCK_NAME, failure_trigger
from mailops.ports import free_port
from sandbox.server import Sandbox

pytestmark = pytest.mark.slow

ALERT_WAIT = 60.0  # seconds for the run to fail and its alert to reach Slack
# The run fails on a configuration error whose message quotes this value (text that must
# reach Slack escaped).
BAD_ZONE = "Mars/<Olympus>&Co"

runner = CliRunner()
T = TypeVar("T")


@dataclass(frozen=True)
class AlertServer:
    api_url: str
    ui_url: str
    log: Path
    database: Path

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = httpx.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    """A Prefect server of the module's own, and PREFECT_API_URL pointing at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path_factory.mktemp("prefect")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log, database = home / "server.log", home / "prefect.db"
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("PREFECT_", "MAILOPS_"))}
    environment |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT_UI_ENABLED": "0",
        "PREFECT_UI_URL": url,
        "PREFECT_SERVER_LOGGING_LEVEL": "INFO",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
             "--lifespan", "on"],
            env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the Prefect server did not start in 120 s"
            time.sleep(0.2)
        with temporary_settings({PREFECT_API_URL: f"{url}/api"}):
            yield AlertServer(f"{url}/api", url, log, database)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def setup_alerts(cli) -> dict[str, object]:
    result = runner.invoke(cli, ["alerts", "setup", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def automations(server: AlertServer) -> list[dict[str, object]]:
    found = server.api("POST", "/automations/filter", json={}).json()
    return [a for a in found if a["name"] == AUTOMATION_NAME]


def all_events(server: AlertServer) -> str:
    """Every event the server stored (page by page), as JSON text."""
    page = server.api("POST", "/events/filter", json={"limit": 50}).json()
    events = list(page["events"])
    while page.get("next_page"):
        page = httpx.get(page["next_page"], timeout=30).json()
        events += page["events"]
    return json.dumps(events)


def wait_for(what: str, check: Callable[[], T], timeout: float = ALERT_WAIT) -> T:
    """`check()` once it answers something (polled twice a second), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: nothing within {timeout:.0f} s")


def test_a_failed_run_of_a_served_deployment_posts_one_escaped_alert(
    alert_server, cli, monkeypatch, tmp_path, capfd
):
    from prefect.deployments import run_deployment

    from deployments.build import build_deployments

    with Sandbox.start(seed=7, scale="small") as sandbox:
        hook = sandbox.slack_webhook_url
        secret = hook.rsplit("/", 1)[1]
        monkeypatch.setenv("MAILOPS_SLACK_WEBHOOK_URL", hook)
        monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("MAILOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'mailops.db'}")

        first, second = setup_alerts(cli), setup_alerts(cli)
        assert (first["status"], second["status"]) == ("created", "updated")
        assert first["automation_id"] == second["automation_id"] and second["enabled"]
        [stored] = automations(alert_server)
        assert stored["enabled"] and stored["tags"] == ["mailops"]
        assert stored["trigger"]["match"] == failure_trigger().match.model_dump()
        assert stored["trigger"]["match_related"] == {
            "prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.mailops"}
        [action] = stored["actions"]
        assert action["type"] == "call-webhook" and "flow_run.state.message" in action["payload"]

        # Switched off in the UI (the same PATCH), a setup leaves it off; then on again.
        alert_server.api("PATCH", f"/automations/{stored['id']}", json={"enabled": False})
        assert setup_alerts(cli)["enabled"] is False
        assert [a["enabled"] for a in automations(alert_server)] == [False]
        alert_server.api("PATCH", f"/automations/{stored['id']}", json={"enabled": True})

        # A mailops deployment, served as `mailops serve` serves it; its run fails on a
        # configuration error whose message quotes the bad value.
        monkeypatch.setenv("MAILOPS_TIMEZONE", BAD_ZONE)
        [deployment] = [d for d in build_deployments("UTC") if d.name == "outbound-reset-daily"]
        served = serve_in_thread(deployment, name="failure-alert-test")
        try:
            run = run_deployment("outbound-reset-daily/outbound-reset-daily", timeout=0)
            final = wait_for("the run's end", lambda: (
                state if (state := alert_server.api("GET", f"/flow_runs/{run.id}").json()[
                    "state"])["type"] in ("FAILED", "CRASHED", "COMPLETED") else None))
            wait_for("the Slack alert", sandbox.slack_posts)
        finally:
            served.stop()
        assert final["type"] == "FAILED" and "Mars/<Olympus>&Co" in final["message"]
        time.sleep(1)  # a second post would have come by now
        [post] = sandbox.slack_posts()
        assert post["status"] == 200
        text = post["payload"]["text"]
        assert text.startswith(":rotating_light: *mailops run Failed*: "
                               "outbound-reset-daily/outbound-reset-daily, run "
                               f"`{run.name}`\nconfiguration error: ")
        assert "Mars/&lt;Olympus&gt;&amp;Co" in text and "<Olympus>" not in text
        assert text.endswith(f"\n<{alert_server.ui_url}/runs/flow-run/{run.id}|Open the run in "
                             "Prefect>")

        # The webhook URL is nowhere but in the block's encrypted data.
        logs = alert_server.api("POST", "/logs/filter", json={"limit": 200}).text
        events = wait_for("the action's event", lambda: (
            found if "prefect.automation.action.executed" in (found := all_events(
                alert_server)) else None))
        block = alert_server.api("GET", f"/block_types/slug/webhook/block_documents/name/"
                                        f"{BLOCK_NAME}").text
        flow_run = alert_server.api("GET", f"/flow_runs/{run.id}").text
        stored_rows = b"".join(path.read_bytes() for path in alert_server.database.parent.glob(
            "prefect.db*"))
        captured = capfd.readouterr()
        for name, text in {
            "server log": alert_server.log.read_text(), "run logs": logs, "events": events,
            "block as the API shows it": block, "flow run": flow_run,
            "automation": json.dumps(automations(alert_server)),
            "this process's output": captured.out + captured.err,
            "setup output": json.dumps([first, second]),
        }.items():
            assert secret not in text, name
        assert secret.encode() not in stored_rows


def test_without_slack_setup_removes_the_alert_and_says_why(alert_server, cli, monkeypatch):
    monkeypatch.setenv("MAILOPS_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/xyz1")
    setup_alerts(cli)
    monkeypatch.delenv("MAILOPS_SLACK_WEBHOOK_URL")
    result = runner.invoke(cli, ["alerts", "setup"])
    assert result.exit_code == 0
    assert result.output == ("Failure alerts are off: no Slack is configured "
                             "(MAILOPS_SLACK_WEBHOOK_URL, or MAILOPS_SLACK_BOT_TOKEN with "
                             "MAILOPS_SLACK_CHANNEL); removed the Prefect automation "
                             f"'{AUTOMATION_NAME}' set up earlier.\n")
    assert automations(alert_server) == []
    assert BLOCK_NAME not in alert_server.api("POST", "/block_documents/filter", json={}).text
    assert setup_alerts(cli)["status"] == "off"


def test_serve_without_slack_says_alerts_are_off_in_one_line_and_still_serves(
    alert_server, cli, monkeypatch, tmp_path
):
    from deployments import JOBS

    monkeypatch.setenv("MAILOPS_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/xyz2")
    setup_alerts(cli)  # set up earlier, by a shell that had Slack
    monkeypatch.delenv("MAILOPS_SLACK_WEBHOOK_URL")
    environment = {**os.environ, "PREFECT_API_URL": alert_server.api_url,
                   "MAILOPS_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "serve.out"
    with out.open("wb") as output:
        serving = subprocess.Popen([sys.executable, "-m", "cli", "serve"], env=environment,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for("every deployment served", lambda: len(alert_server.api(
            "POST", "/deployments/filter", json={}).json()) == len(JOBS))
        assert serving.poll() is None  # still serving
    finally:
        serving.send_signal(signal.SIGINT)
        try:
            serving.wait(30)
        except subprocess.TimeoutExpired:
            serving.kill()
            serving.wait(5)
    first = out.read_text().splitlines()[0]
    assert first == ("Failure alerts are off: no Slack is configured (MAILOPS_SLACK_WEBHOOK_URL, "
                     "or MAILOPS_SLACK_BOT_TOKEN with MAILOPS_SLACK_CHANNEL); removed the Prefect "
                     f"automation '{AUTOMATION_NAME}' set up earlier.")
    assert automations(alert_server) == []
