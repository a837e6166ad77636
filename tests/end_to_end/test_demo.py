"""The demo runs every job on schedule in the sandbox, end to end, at a small scale."""

from __future__ import annotations

import json

import pytest

from sandbox.demo import run_demo

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def test_one_simulated_week_runs_every_job_on_its_schedule(tmp_path, monkeypatch):
    # Given the demo's folder (the demo sets its own environment; the test undoes it)
    for name in ("MAILOPS_CONFIG", "MAILOPS_DATABASE_URL", "MAILOPS_DATA_DIR",
                 "MAILOPS_CLEANBOX_BASE_URL", "MAILOPS_EMBOUX_BASE_URL",
                 "MAILOPS_EMBOUX_API_KEY", "MAILOPS_SLACK_WEBHOOK_URL",
                 "MAILOPS_CLEANBOX_LIMITS__RATE_LIMIT_PER_SECOND",
                 "MAILOPS_EMBOUX_LIMITS__RATE_LIMIT_PER_SECOND"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    steps: list[str] = []
    # When a week is simulated
    summary = run_demo(weeks=1, folder=tmp_path / "demo",
                       on_step=lambda done, total, what: steps.append(what))
    # Then each job ran as often as its schedule says, none failed, and results are on disk
    assert summary.failed == []
    # two resets a day (00:00 and the 12:00 catch-up); none failed, so none was retaken
    assert summary.runs["daily-health"] == 7 and summary.runs["outbound-reset-daily"] == 14
    assert summary.runs["outbound-guard"] == 14 and summary.runs["contact-cleanup"] == 1
    assert summary.runs["quarantine-accept"] == 7 and summary.runs["weekly-report"] == 1
    assert summary.reports and '<figure class="chart">' in summary.reports[0].read_text()
    assert summary.database.is_file() and summary.alerts > 0
    assert summary.runs["domain-onboarding"] == 1 and summary.runs["verification-watch"] == 7
    assert summary.onboarded["newcomer-demo.com"] is not None
    posts = json.loads(summary.slack_posts.read_text())
    assert len(posts) >= 7 and steps[-1] == "done"
