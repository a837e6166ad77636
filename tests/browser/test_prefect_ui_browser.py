"""The Prefect UI as an operator meets it: a real Prefect server from the venv (on
PostgreSQL, as in production), `mailops serve` against the sandbox, and headless Chromium on
the UI's own pages.

On contact-cleanup's deployment the Run form describes every field; a run started from it
with `apply` on pauses with its plan as an artifact on the flow-run page; the operator
approves it through the Resume form with a note and a name; the run applies the plan, ends
in the state `Applied`, and the note and name are in the audit log. Screenshots go to
data/screenshots/ for a person to look at.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools_browser import Browser
from fixtures_sandbox import point_at_sandbox

from mailops.contacts import parse_target
from mailops.store import Store
from sandbox.postgres import LocalPostgres
from sandbox.server import Sandbox

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "data" / "screenshots"
JOB = "contact-cleanup"
NOTE, APPROVER = "read the first 20 rows", "ops-anna"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(what: str, check: Any, seconds: float, every: float = 0.5) -> Any:
    """`check()`'s first truthy answer within `seconds`, or a failure naming `what`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(every)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def without_session_prefect_settings() -> dict[str, str]:
    """This process's environment without its PREFECT_* settings: the test session sets its
    own (tasks/__init__ quiets the server's log, conftest turns the task run recorder off, the
    demo command sets PREFECT_LOGGING_LEVEL=WARNING, a harness sets PREFECT_API_URL), and the
    processes of this test run as an operator's do, with Prefect's defaults."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("PREFECT_")}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class PrefectUI:
    """A Prefect server of the test's own, its UI and API on one port."""

    def __init__(self, home: Path, database_url: str) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.api = f"{self.url}/api"
        environment = {
            **without_session_prefect_settings(), "PREFECT_HOME": str(home),
            "PREFECT_SERVER_UI_API_URL": self.api,
            # Only the run this test starts: no scheduled runs of the served deployments.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # The server's own errors in server.log (the session quiets them: tasks/__init__),
            # the ones it answers 503 to as well.
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING", "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
            # PostgreSQL, as the README advises operators: on SQLite, two of the server's
            # writes at once get "database is locked" at once (no busy wait for a deferred
            # transaction), a 503 that the UI shows as "Oops. Something went wrong.".
            "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        }
        self.log = home / "server.log"
        home.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("prefect")), "server", "start",
                 "--host", "127.0.0.1", "--port", str(port)],
                env=environment, stdout=log, stderr=subprocess.STDOUT,
            )
        _until("the Prefect server answering", self._healthy, 180)

    def _healthy(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-2000:]
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.api}/health", timeout=5, trust_env=False).is_success
        return False

    def post(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.api}{path}", json=body, timeout=30, trust_env=False)
        answer.raise_for_status()
        return answer.json()

    def deployment(self, flow: str) -> dict[str, Any] | None:
        found = self.post("/deployments/filter", {"deployments": {"name": {"any_": [flow]}}})
        return found[0] if found else None

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.post("/flow_runs/filter", {"flow_runs": {
            "deployment_id": {"any_": [deployment_id]}}})

    def run(self, run_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.api}/flow_runs/{run_id}", timeout=30, trust_env=False)
        answer.raise_for_status()
        return answer.json()

    def log_lines_of(self, run_id: str) -> list[str]:
        found = self.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
        return [str(line["message"]) for line in found]

    def artifacts_of(self, run_id: str) -> list[dict[str, Any]]:
        return self.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(seed=7, scale="small") as running:
        yield running


@pytest.fixture
def prefect_database(local_postgres: LocalPostgres) -> Iterator[str]:
    """A PostgreSQL database of the test's own for the Prefect server (asyncpg's URL)."""
    name = "prefect_ui"
    local_postgres.create_database(name)
    try:
        yield local_postgres.url(name, driver="asyncpg")
    finally:
        local_postgres.drop_database(name)


@pytest.fixture
def console(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
            prefect_database: str) -> Iterator[tuple[PrefectUI, str]]:
    """The Prefect server and `mailops serve` against the sandbox (one team; a cap the plan
    fits under, so the default form applies it); yields the server and the store's URL."""
    database_url = point_at_sandbox(
        monkeypatch, sandbox, tmp_path, teams=1,
        CONTACTS__MAX_ACTIONS_PER_RUN="100000", APPROVAL__POLL_SECONDS="1")
    ui = PrefectUI(tmp_path / "prefect", prefect_database)
    # (without INFO logs, as the demo command leaves them, the run page never says what to do)
    environment = without_session_prefect_settings()
    environment.update({"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": ui.api,
                        "PREFECT_UI_URL": ui.url, "PREFECT_RUNNER_POLL_FREQUENCY": "1"})
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen([sys.executable, "-m", "cli", "serve"], cwd=ROOT,
                                 env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        _until("the deployments served", lambda: ui.deployment(JOB), 120)
        yield ui, database_url
    finally:
        _stop(serve)
        _stop(ui.process)


def contact_states(sandbox: Sandbox) -> dict[str, str]:
    """The first team's contacts (uuid -> state) as the sandbox holds them."""
    world = sandbox.world
    team = world.teams[0]
    return {row["uuid"]: row["state"]
            for row in (team.contacts.to_json(i, team.salt, world.categories)
                        for i in range(len(team.contacts)))}


def _button(text: str, scope: str = "document") -> str:
    return (f"[...{scope}.querySelectorAll('button')]"
            f".find(b => b.innerText.trim() === {text!r})")


def _field(label: str) -> str:
    """The Run form's or Resume form's property whose label starts with `label`."""
    return (f"[...document.querySelectorAll('.schema-form-property')]"
            f".find(p => p.innerText.startsWith({label!r}))")


def test_an_operator_runs_reads_and_approves_a_cleanup_in_the_prefect_ui(console, sandbox,
                                                                         tmp_path):
    ui, database_url = console
    before = contact_states(sandbox)
    deployment = ui.deployment(JOB)
    assert deployment is not None
    described = {name: field.get("description", "") for name, field
                 in deployment["parameter_openapi_schema"]["properties"].items()}
    browser = Browser(tmp_path / "profile")
    browser.watch_requests()
    try:
        # Given the deployment's Run form, as the operator opens it
        browser.call("Page.navigate", url=f"{ui.url}/deployments/deployment/"
                                          f"{deployment['id']}/run")
        browser.wait_for(f"!!{_button('Submit')} && !!{_field('apply')}", 60)
        # Then every field is shown with its description (markdown, rendered a moment later)
        assert all(described.values()), described
        shown = {name: " ".join(text.replace("`", "").split(";")[0].split())
                 for name, text in described.items()}
        page_text = "document.body.innerText.replace(/\\s+/g, ' ')"
        every = " && ".join(f"{page_text}.includes({text!r})" for text in shown.values())
        with contextlib.suppress(AssertionError):
            browser.wait_for(every, 30)
        form = str(browser.evaluate(page_text))
        browser.screenshot(SCREENSHOTS / "prefect-run-form.png")
        for name, text in shown.items():
            assert f"{name} (Optional)" in form and text in form, name
        # ...an optional field (the clock, the cap) as an empty field of its type, no None
        assert "Property is type" not in form
        # ...and no way around approval
        assert "require_approval" not in form and "approve" not in described

        # When the operator switches apply on and submits the form
        browser.evaluate(f"{_field('apply')}.querySelector('[role=switch]').click()")
        browser.wait_for(f"{_field('apply')}.querySelector('[role=switch]')"
                         ".getAttribute('aria-checked') === 'true'")
        browser.evaluate(f"{_button('Submit')}.click()")
        try:
            [run] = _until("the run created", lambda: ui.runs_of(deployment["id"]), 60)
        except AssertionError:
            browser.screenshot(SCREENSHOTS / "prefect-run-not-created.png")
            page = " ".join(str(browser.evaluate("document.body.innerText")).split())
            server_log = (tmp_path / "prefect" / "server.log").read_text()[-3000:]
            raise AssertionError(
                f"the Run form created no run; requests that failed: {browser.failed_requests}"
                f"; the page: {page[-600:]}; the server's log: {server_log}") from None
        assert run["parameters"].get("apply") is True
        assert "as_of" not in run["parameters"] and "max_actions" not in run["parameters"]

        # Then the run pauses for approval, its plan an artifact on its page
        _until("the run paused", lambda: ui.run(run["id"])["state_type"] == "PAUSED", 120)
        [artifact] = [a for a in ui.artifacts_of(run["id"]) if a["key"] == f"{JOB}-approval"]
        # (the run's logs reach the server in batches: the page is opened once the line is in)
        _until("the approval's log line", lambda: any(
            "waiting for approval" in line for line in ui.log_lines_of(run["id"])), 60)
        browser.call("Page.navigate", url=f"{ui.url}/runs/flow-run/{run['id']}")
        browser.wait_for(f"!!{_button('Resume')} && "
                         f"document.body.innerText.includes('{JOB}-approval')", 60)
        page = str(browser.evaluate("document.body.innerText"))
        assert "Paused" in page and "waiting for approval" in page
        assert f"/artifacts/artifact/{artifact['id']}" in page  # the log line links the plan
        browser.screenshot(SCREENSHOTS / "prefect-paused-run.png")

        # When the operator opens Resume, reads the plan, switches Approve on, and says why
        browser.evaluate(f"{_button('Resume')}.click()")
        browser.wait_for("!!document.querySelector('.p-modal [role=switch]')", 30)
        dialog = str(browser.evaluate("document.querySelector('.p-modal').innerText"))
        assert "Contact cleanup" in dialog and f"{JOB}-approval" in dialog
        toggle = "document.querySelector('.p-modal [role=switch]')"
        browser.evaluate(f"{toggle}.click()")
        browser.wait_for(f"{toggle}.getAttribute('aria-checked') === 'true'")
        for number, text in enumerate((NOTE, APPROVER)):
            area = f"document.querySelectorAll('.p-modal textarea')[{number}]"
            browser.evaluate(f"{area}.focus()")
            browser.call("Input.insertText", text=text)
            browser.wait_for(f"{area}.value === {text!r}")
        browser.screenshot(SCREENSHOTS / "prefect-resume-form.png")
        submit = _button("Submit", "document.querySelector('.p-modal')")
        browser.evaluate(f"{submit}.click()")
        with contextlib.suppress(AssertionError):
            browser.wait_for("!document.querySelector('.p-modal')", 30)
        browser.screenshot(SCREENSHOTS / "prefect-resumed.png")

        # Then the run applies the plan and ends as Applied, naming who approved and why
        ended = _until("the run ended", lambda: (lambda r: r if r["state_type"] in (
            "COMPLETED", "FAILED", "CRASHED") else None)(ui.run(run["id"])), 120)
        assert ended["state_type"] == "COMPLETED" and ended["state_name"] == "Applied"
        assert f"approved in the Prefect UI by {APPROVER}: {NOTE}" in ended["state"]["message"]
        browser.call("Page.navigate", url=f"{ui.url}/runs/flow-run/{run['id']}")
        browser.wait_for("document.body.innerText.includes('Applied')", 60)
        with contextlib.suppress(AssertionError):  # the screenshot once the logs are shown
            browser.wait_for(f"document.body.innerText.includes({APPROVER!r})", 30)
        browser.screenshot(SCREENSHOTS / "prefect-applied-run.png")
    finally:
        browser.close()

    # ...the contacts were changed in the sandbox, and the decision is audited with its note
    with Store(database_url) as store:
        changes = store.audit.of_run(run["id"])
    [decision] = [c.change for c in changes if c.change.field == "approval"]
    assert (decision.new_value, decision.reason, decision.label) == ("approved", NOTE, APPROVER)
    applied = [c for c in changes if c.change.field != "approval"]
    assert applied and len(applied) == int(ended["state"]["message"].split(" ")[0])
    after = contact_states(sandbox)
    for audit in applied:
        _, uuid = parse_target(audit.change.target)
        assert (before[uuid], after[uuid]) == ("unset", audit.change.new_value)
