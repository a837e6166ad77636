"""The `mailops` command: version, help, db upgrade, --json, and clean failures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from fixtures_prefect import NO_LOCAL_PREFECT_SERVER
from typer.testing import CliRunner

from cli.app import app
from mailops import __version__

runner = CliRunner()


def run_mailops(*args: str, cwd: Path, env: dict[str, str] | None = None):
    """Run the installed entry point as a user would, in a clean environment (which starts
    no local Prefect server: see NO_LOCAL_PREFECT_SERVER)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAILOPS_")}
    environment.update({**NO_LOCAL_PREFECT_SERVER, **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=60,
    )


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"mailops {__version__}"


def listed_commands(output: str) -> list[str]:
    """The command names in the Commands panel of typer's (rich) --help."""
    return re.findall(r"^│ ([a-z][\w-]*)  ", output, re.MULTILINE)


def test_help_lists_the_db_commands(cli):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert listed_commands(result.output) == [
        "dashboard", "health", "serve", "demo", "chaos", "guard", "sandbox", "db", "outbound",
        "billing", "contacts", "quarantine", "report", "domains", "server", "alerts"]
    db_help = runner.invoke(cli, ["db", "--help"])
    assert db_help.exit_code == 0 and listed_commands(db_help.output) == ["upgrade"]


def test_db_upgrade_creates_the_default_database_under_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "Created database sqlite:///data/mailops.db at revision" in result.output
    assert (tmp_path / "data" / "mailops.db").is_file()
    again = runner.invoke(app, ["db", "upgrade"])
    assert "is up to date" in again.output


def test_json_prints_exactly_one_object_before_or_after_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    for args in (["--json", "db", "upgrade"], ["db", "upgrade", "--json"]):
        result = runner.invoke(app, args)
        payload = json.loads(result.output)
        assert payload["ok"] is True and payload["revision"]


def test_bad_configuration_is_one_line_and_exit_2_without_traceback(tmp_path):
    result = run_mailops("db", "upgrade", cwd=tmp_path, env={"MAILOPS_TIMEZONE": "Nowhere/Land"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "mailops: configuration error: MAILOPS_TIMEZONE: 'Nowhere/Land' is not an IANA time "
        "zone such as 'Europe/Berlin'"
    ]


def test_an_unreachable_database_is_one_line_with_the_password_masked(tmp_path):
    url = "postgresql://mailops:pw-very-secret@127.0.0.1:9/mailops"
    result = run_mailops("--json", "db", "upgrade", cwd=tmp_path, env={"MAILOPS_DATABASE_URL": url})
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["error"].startswith("cannot use the database postgresql://mailops:***@")
    assert "pw-very-secret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_as_of_is_one_line_naming_the_option(cli):
    for value, says in [("yesterday", "is not an ISO 8601 time"),
                        ("2026-10-04T08:00", "needs a time zone")]:
        result = runner.invoke(cli, ["guard", "--as-of", value])
        assert result.exit_code == 2 and says in result.output


def test_the_terminal_shows_a_runs_log_lines_only_for_a_bug():
    import logging

    from cli.app import RunLogsOnTerminal
    from mailops.errors import AuthError

    def record(name: str, level: int, error: BaseException | None = None) -> logging.LogRecord:
        info = (type(error), error, None) if error else None
        return logging.LogRecord(name, level, __file__, 1, "msg", None, info)

    shown = RunLogsOnTerminal().filter
    rejected = AuthError("rejected", api="EmBoux", method="GET", endpoint="/domains")
    assert not shown(record("prefect.flow_runs", logging.INFO))
    assert not shown(record("prefect.task_runs", logging.ERROR, rejected))
    assert not shown(record("prefect.flow_runs", logging.WARNING))
    assert not shown(record("EventsWorker", logging.WARNING))
    assert shown(record("prefect.task_runs", logging.ERROR, ZeroDivisionError("a bug")))
    assert shown(record("mailops.http", logging.WARNING))
    assert shown(record("py.warnings", logging.WARNING))
