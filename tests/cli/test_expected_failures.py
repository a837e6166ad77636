"""Expected failures are one line on stderr, run as a person runs them: the real `mailops`
command in a process of its own (Prefect's run loggers would print the failed task's
traceback there); configuration errors exit 2 from every job command, bugs keep their
traceback.

Each process pays Python's and Prefect's imports (seconds): the cases are few.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MALFORMED_TOML = 'timezone = "Europe/Berlin"\n[alerts\nweekly_usage_pct = 80\n'
JOB_COMMANDS = [
    ["health"],
    ["contacts", "cleanup"],
    ["contacts", "undo", "some-run-id"],
    ["quarantine", "accept"],
    ["outbound", "reset-daily"],
    ["outbound", "freeze-month"],
    ["billing", "export", "--period", "2026-09"],
    ["guard"],
    ["report", "weekly"],
    ["domains", "onboard", "news.example.com"],
    ["domains", "watch"],
    ["domains", "rotate-credential", "news.example.com"],
]


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The process's stderr, which must be exactly one line."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", JOB_COMMANDS, ids=" ".join)
def test_a_malformed_config_file_is_exit_2_and_one_line_naming_it(command, tmp_path):
    # Given a mailops.toml that is not TOML
    config = tmp_path / "mailops.toml"
    config.write_text(MALFORMED_TOML)
    # When the command runs (it fails before Prefect is imported or a server started)
    done = subprocess.run(
        [sys.executable, "-m", "cli", *command], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "MAILOPS_CONFIG": str(config),
             "MAILOPS_DATA_DIR": str(tmp_path / "data"), "MAILOPS_PREFECT_SERVER": "local"},
    )
    # Then it exits 2 with one line naming the file
    assert done.returncode == 2, done.stderr
    assert one_line(done).startswith(
        f"mailops: configuration error: {config} is not valid TOML: ")
    assert not (tmp_path / "data" / "prefect").exists()


def test_a_rejected_emboux_key_on_reset_daily_is_one_line(resets_env, mailops_process):
    # Given EmBoux rejects the token (it printed 26 lines: the failed task's traceback)
    resets_env.use_token("emb_not_a_real_token_0000")
    # When the daily reset runs by hand
    done = mailops_process("outbound", "reset-daily")
    # Then one line says why, exit 1, and the token is not shown
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith("mailops: reset-daily was refused, so nothing was reset: ")
    assert "(401)" in line and "emb_not_a_real_token_0000" not in done.stderr + done.stdout


def test_an_unknown_domain_on_onboard_is_one_line(domains_env, mailops_process):
    # When a domain EmBoux does not know is onboarded (404)
    done = mailops_process("domains", "onboard", "not-registered.example", "--apply")
    # Then one line names the call and the answer, exit 1
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith("mailops: domain-onboarding stopped: POST "
                           "/domains/not-registered.example/verify failed")
    assert "(404)" in line


def test_a_corrupt_store_is_one_line(tmp_path, mailops_process):
    # Given a store file that is not a database
    (tmp_path / "mailops.db").write_bytes(b"\x00not a database\xff" * 400)
    env = {"MAILOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'mailops.db'}",
           "MAILOPS_DATA_DIR": str(tmp_path / "data")}
    # When the weekly report reads it
    done = mailops_process("report", "weekly", "--no-notify", env=env)
    # Then one line names the database, exit 1
    assert done.returncode == 1
    assert one_line(done) == (
        f"mailops: cannot use the database sqlite:///{tmp_path / 'mailops.db'}: file is not a "
        "database")


def test_an_unwritable_data_folder_is_one_line(mailops_env, monkeypatch, tmp_path,
                                               mailops_process):
    # Given no Slack (the report goes to the outbox in the data folder), and a data folder
    # that cannot be created (its parent is a file)
    monkeypatch.delenv("MAILOPS_SLACK_WEBHOOK_URL")
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"
    # When daily-health runs
    done = mailops_process("health", "--as-of", mailops_env.sandbox.now().isoformat(),
                           env={"MAILOPS_DATA_DIR": str(data_dir)})
    # Then the day is stored, and one line says the report could not be kept, exit 1
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith("mailops: 1 problem(s): the report was not sent (cannot write the "
                           f"Slack payload to {data_dir}/slack/")
    assert line.endswith("Not a directory); the data is stored")
    assert done.stdout.startswith("Daily health ")


BUG = """
import sys
import tasks.report

def build_report(*args, **kwargs):
    raise ZeroDivisionError("a bug in the report")

tasks.report.build_report = build_report
sys.argv = ["mailops", "report", "weekly", "--week", "2026-W47", "--no-notify"]
from cli.app import main
main()
"""


def test_a_bug_keeps_its_traceback(weekly_env, prefect_harness):
    # Given a bug in the weekly report's computation (not an expected failure)
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    # When the report runs by hand
    done = subprocess.run([sys.executable, "-c", BUG], env=env, capture_output=True,
                          text=True, timeout=120)
    # Then the bug's traceback is on stderr, and the command fails
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ZeroDivisionError: a bug in the report" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("mailops: ")
