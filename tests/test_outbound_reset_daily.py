"""outbound-reset-daily against the sandbox over HTTP: once per UTC day, whatever happens."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from typing import Any

import pytest
from conftest import race_processes
from typer.testing import CliRunner

from mailops.store import LedgerStatus

pytestmark = pytest.mark.usefixtures("prefect_harness")

RESET_DAILY = "POST /emboux/outbound/reset-daily"
JOB = "outbound-reset-daily"


def run_daily(**parameters):
    from flows.commands import run_flow
    from flows.outbound_reset_daily import outbound_reset_daily

    return run_flow(outbound_reset_daily, **parameters)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_a_second_run_the_same_day_sends_nothing_and_says_the_day_is_done(resets_env, cli):
    # Given a day whose reset has not run
    runner = CliRunner()
    # When the command runs twice
    first = runner.invoke(cli, ["outbound", "reset-daily", "--json"])
    second = runner.invoke(cli, ["outbound", "reset-daily"])
    # Then the first reset every domain, the second sent nothing and said so
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout.strip().splitlines()[-1])
    assert body["ok"] is True and body["status"] == "done" and body["day"] == today()
    assert body["reset_count"] == len(resets_env.counters())
    assert second.exit_code == 0, second.output
    assert f"The daily reset of {today()} is already done" in second.stdout
    assert "nothing was sent" in second.stdout
    # And the sandbox saw exactly one reset-daily, with every counter at zero
    assert resets_env.reset_calls() == (1, 0)
    assert all(d["outbound_sent_today"] == 0 for d in resets_env.counters().values())
    assert resets_env.store.ledger_entry(JOB, today()).status is LedgerStatus.DONE


def test_a_lost_answer_is_reconciled_from_zero_counters_and_never_resent(resets_env, cli):
    # Given the reset is applied but its answer is lost
    resets_env.sandbox.inject_fault(RESET_DAILY, "lost_response", count=1)
    # When the flow runs, then runs again
    outcome = run_daily()
    again = run_daily()
    # Then it read the counters (all zero) and recorded the day as done, with no resend
    assert outcome.ok, outcome.message
    assert outcome.result["status"] == "done" and outcome.result["reconciled"] is True
    assert "all 50 domains show 0 sent today" in outcome.result["detail"]
    assert again.ok and again.result["status"] == "already_done"
    assert resets_env.reset_calls() == (1, 0)
    entry = resets_env.store.ledger_entry(JOB, today())
    assert entry.status is LedgerStatus.DONE and "answer lost" in entry.detail


def test_an_unanswered_call_that_did_not_reset_is_proven_so_and_made_once_more(resets_env):
    # Given a call that times out before the server acts on it (the counters keep their sends)
    resets_env.sandbox.inject_fault(RESET_DAILY, "hang", count=1, hang_seconds=5)
    # When the flow runs
    outcome = run_daily()
    # Then the counters read before the call prove it was not applied, and one more call
    # resets the day: exactly one reset reached EmBoux
    assert outcome.ok, outcome.message
    assert outcome.result["status"] == "done" and outcome.result["reconciled"] is True
    assert resets_env.reset_calls() == (1, 0)
    assert resets_env.store.ledger_entry(JOB, today()).status is LedgerStatus.DONE
    assert run_daily().result["status"] == "already_done"
    assert resets_env.reset_calls() == (1, 0)


def test_a_call_that_cannot_be_told_apart_marks_the_day_unknown_until_forced(resets_env):
    # Given no counters readable before the call, and a call that times out unapplied
    resets_env.sandbox.inject_fault("GET /emboux/domains", "malformed", count=2)
    resets_env.sandbox.inject_fault(RESET_DAILY, "hang", count=1, hang_seconds=5)
    # When the flow runs
    outcome = run_daily()
    # Then it does not resend: the day is unknown, an alert is stored, the run failed
    assert not outcome.ok
    assert "may or may not have been applied" in outcome.message
    assert "--force" in outcome.message
    assert outcome.result["status"] == "unknown"
    assert resets_env.reset_calls() == (0, 0)
    assert resets_env.store.ledger_entry(JOB, today()).status is LedgerStatus.UNKNOWN
    alerts = resets_env.store.alerts_of_day(date.fromisoformat(today()), JOB)
    assert [a.key for a in alerts] == ["reset_outcome_unknown"]
    # When it runs again without --force: nothing is sent
    blocked = run_daily()
    assert not blocked.ok and "unknown outcome" in blocked.message
    assert resets_env.reset_calls() == (0, 0)
    # When a person forces it: exactly one reset
    forced = run_daily(force=True)
    assert forced.ok and forced.result["status"] == "done"
    assert resets_env.reset_calls() == (1, 0)


def test_a_customer_token_gets_a_clear_error_and_the_day_stays_open(resets_env, cli):
    # Given mailops is configured with a customer token
    resets_env.use_token(next(iter(resets_env.sandbox.customer_tokens.values())))
    # When the command runs
    result = CliRunner().invoke(cli, ["outbound", "reset-daily"])
    # Then one line says the master token is needed, with no traceback, and nothing reset
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "mailops: reset-daily needs the EmBoux master token" in result.output
    assert "AuthError" not in result.output
    assert resets_env.reset_calls() == (0, 0)
    # And the day is failed (provably not applied), so the master token may retake it
    assert resets_env.store.ledger_entry(JOB, today()).status is LedgerStatus.FAILED
    resets_env.use_token(resets_env.sandbox.master_token)
    assert run_daily().ok
    assert resets_env.reset_calls() == (1, 0)


def test_a_day_far_from_today_is_refused_before_anything_runs(resets_env, cli):
    result = CliRunner().invoke(cli, ["outbound", "reset-daily", "--day", "2020-01-01"])
    assert result.exit_code == 1
    assert "acts on today's counters" in result.output
    assert resets_env.reset_calls() == (0, 0)
    bad = CliRunner().invoke(cli, ["outbound", "reset-daily", "--day", "tomorrow"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_a_lost_answer_that_cannot_be_checked_leaves_the_day_unknown_and_alerts(resets_env):
    # Given a lost answer, and a domain list that then comes back unreadable
    resets_env.sandbox.inject_fault(RESET_DAILY, "lost_response", count=1)
    resets_env.sandbox.inject_fault("GET /emboux/domains", "malformed")
    # When the flow runs
    outcome = run_daily()
    # Then the sent call is never taken for failed: the day is unknown, alerted, not resent
    assert not outcome.ok and outcome.result["status"] == "unknown"
    assert "GET /domains" in outcome.message
    assert resets_env.store.ledger_entry(JOB, today()).status is LedgerStatus.UNKNOWN
    alerts = resets_env.store.alerts_of_day(date.fromisoformat(today()), JOB)
    assert [a.key for a in alerts] == ["reset_outcome_unknown"]
    assert resets_env.reset_calls() == (1, 0)


def reset_when_all_are_ready(api_url: str, start: Any, results: Any) -> None:
    """One OS process running the whole flow (its environment is the test's), started with
    the others."""
    os.environ["PREFECT_API_URL"] = api_url
    from flows.commands import run_flow
    from flows.outbound_reset_daily import outbound_reset_daily

    start.wait(timeout=120)
    outcome = run_flow(outbound_reset_daily)
    results.put(outcome.result["status"] if outcome.result else f"error: {outcome.message}")


def test_two_processes_racing_the_days_reset_on_postgresql_reset_once(postgres_resets_env):
    # Given the store on PostgreSQL and two OS processes, each running the flow on its own
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    # When both start the day's reset at the same moment
    statuses = sorted(race_processes(reset_when_all_are_ready, (api_url,), (api_url,)))
    # Then one reset and the other found the day taken (done, or still held by the winner)
    assert statuses.count("done") == 1, statuses
    assert set(statuses) <= {"done", "already_done", "started"}, statuses
    # And the sandbox applied exactly one reset-daily; the ledger says done
    assert postgres_resets_env.reset_calls() == (1, 0)
    assert postgres_resets_env.store.ledger_entry(JOB, today()).status is LedgerStatus.DONE
