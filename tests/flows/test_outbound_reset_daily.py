"""outbound-reset-daily against the sandbox over HTTP: once per UTC day, whatever happens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fixtures_store import race_processes
from typer.testing import CliRunner

from mailops.store import LedgerStatus, run_ledger

pytestmark = pytest.mark.usefixtures("prefect_harness")

RESET_DAILY = "POST /emboux/outbound/reset-daily"
JOB = "outbound-reset-daily"


def run_daily(**parameters):
    from flows.outbound_reset_daily import outbound_reset_daily
    from flows.run import run_flow

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
    assert resets_env.store.ledger.entry(JOB, today()).status is LedgerStatus.DONE


def test_a_lost_answer_is_reconciled_from_zero_counters_and_never_resent(resets_env, cli):
    # Given the reset is applied but its answer is lost
    resets_env.sandbox.inject_fault(RESET_DAILY, "lost_response", count=1)
    # When the flow runs, then runs again
    outcome = run_daily()
    again = run_daily()
    # Then it read the counters (all zero) and recorded the day as done, with no resend
    assert outcome.ok, outcome.message
    assert outcome.result.status == "done" and outcome.result.reconciled is True
    assert "all 50 domains show 0 sent today" in outcome.result.detail
    assert again.ok and again.result.status == "already_done"
    assert resets_env.reset_calls() == (1, 0)
    entry = resets_env.store.ledger.entry(JOB, today())
    assert entry.status is LedgerStatus.DONE and "answer lost" in entry.detail


def test_an_unanswered_call_that_did_not_reset_is_proven_so_and_made_once_more(resets_env):
    # Given a call that times out before the server acts on it (the counters keep their sends)
    resets_env.sandbox.inject_fault(RESET_DAILY, "hang", count=1, hang_seconds=5)
    # When the flow runs
    outcome = run_daily()
    # Then the counters read before the call prove it was not applied, and one more call
    # resets the day: exactly one reset reached EmBoux
    assert outcome.ok, outcome.message
    assert outcome.result.status == "done" and outcome.result.reconciled is True
    assert resets_env.reset_calls() == (1, 0)
    assert resets_env.store.ledger.entry(JOB, today()).status is LedgerStatus.DONE
    assert run_daily().result.status == "already_done"
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
    assert outcome.result.status == "unknown"
    assert resets_env.reset_calls() == (0, 0)
    assert resets_env.store.ledger.entry(JOB, today()).status is LedgerStatus.UNKNOWN
    alerts = resets_env.store.alerts.of_day(date.fromisoformat(today()), JOB)
    assert [a.key for a in alerts] == ["reset_outcome_unknown"]
    # When it runs again without --force: nothing is sent
    blocked = run_daily()
    assert not blocked.ok and "unknown outcome" in blocked.message
    assert resets_env.reset_calls() == (0, 0)
    # When a person forces it: exactly one reset
    forced = run_daily(force=True)
    assert forced.ok and forced.result.status == "done"
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
    assert resets_env.store.ledger.entry(JOB, today()).status is LedgerStatus.FAILED
    resets_env.use_token(resets_env.sandbox.master_token)
    assert run_daily().ok
    assert resets_env.reset_calls() == (1, 0)


def test_a_lost_answer_that_cannot_be_checked_leaves_the_day_unknown_and_alerts(resets_env):
    # Given a lost answer, and a domain list that then comes back unreadable
    resets_env.sandbox.inject_fault(RESET_DAILY, "lost_response", count=1)
    resets_env.sandbox.inject_fault("GET /emboux/domains", "malformed")
    # When the flow runs
    outcome = run_daily()
    # Then the sent call is never taken for failed: the day is unknown, alerted, not resent
    assert not outcome.ok and outcome.result.status == "unknown"
    assert "GET /domains" in outcome.message
    assert resets_env.store.ledger.entry(JOB, today()).status is LedgerStatus.UNKNOWN
    alerts = resets_env.store.alerts.of_day(date.fromisoformat(today()), JOB)
    assert [a.key for a in alerts] == ["reset_outcome_unknown"]
    assert resets_env.reset_calls() == (1, 0)


def reset_when_all_are_ready(api_url: str, start: Any, results: Any) -> None:
    """One OS process running the whole flow (its environment is the test's), started with
    the others."""
    os.environ["PREFECT_API_URL"] = api_url
    from flows.outbound_reset_daily import outbound_reset_daily
    from flows.run import run_flow

    start.wait(timeout=120)
    outcome = run_flow(outbound_reset_daily)
    results.put(outcome.result.status if outcome.result else f"error: {outcome.message}")


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
    assert postgres_resets_env.store.ledger.entry(JOB, today()).status is LedgerStatus.DONE


# --- the day is the clock's, and a catch-up resets only a schedule mailops owns ------------


def scheduled_daily(as_of: datetime, **parameters: Any):
    """The flow as Prefect's scheduler starts it, for the slot `as_of`."""
    from prefect import tags

    from tasks.context import SCHEDULED_TAG

    with tags(SCHEDULED_TAG):
        return run_daily(as_of=as_of, **parameters)


def at(hour: int) -> datetime:
    return datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_a_first_scheduled_run_after_midnight_does_not_reset_mid_day(resets_env):
    # Given a deployment made in the morning: no reset of yesterday in the ledger
    # When its first hourly run starts at 06:00
    outcome = scheduled_daily(at(6))
    # Then it sent nothing, completed, and said why and when the first reset will be
    assert outcome.ok, outcome.message
    assert outcome.result.status == "skipped"
    assert "mid-day" in outcome.result.detail and "00:00 UTC" in outcome.result.detail
    assert resets_env.reset_calls() == (0, 0)
    assert resets_env.store.ledger.entry(JOB, today()) is None


def test_a_catch_up_resets_the_day_when_mailops_reset_the_day_before(resets_env):
    # Given yesterday's reset done by mailops, and today's midnight slot missed
    yesterday = (date.fromisoformat(today()) - timedelta(days=1)).isoformat()
    resets_env.store.ledger.claim(JOB, yesterday, "run-yesterday")
    resets_env.store.ledger.finish(JOB, yesterday, "run-yesterday", LedgerStatus.DONE, "reset 50")
    # When the 06:00 run starts
    outcome = scheduled_daily(at(6))
    # Then it made today's reset, once
    assert outcome.ok and outcome.result.status == "done", outcome.message
    assert resets_env.reset_calls() == (1, 0)
    assert scheduled_daily(at(7)).result.status == "already_done"
    assert resets_env.reset_calls() == (1, 0)


def test_the_midnight_slot_resets_and_a_run_by_hand_decides_for_itself(resets_env):
    # Given no ledger at all: the midnight slot resets, as does a person's run on another day
    assert scheduled_daily(at(0)).result.status == "done"
    assert resets_env.reset_calls() == (1, 0)


def test_a_not_processed_answer_to_the_reset_is_retried_within_the_run(resets_env):
    # Given EmBoux answers the reset 503, then 429 (RFC 9110: not processed), then works
    resets_env.monkeypatch.setenv("MAILOPS_HTTP__MAX_ATTEMPTS", "4")
    resets_env.sandbox.inject_fault(RESET_DAILY, "error", status=503, count=1)
    resets_env.sandbox.inject_fault(RESET_DAILY, "rate_limit", retry_after=1, count=1)
    # When the flow runs
    outcome = run_daily()
    # Then the same run reset the day, once, without reconciling anything
    assert outcome.ok and outcome.result.status == "done", outcome.message
    assert outcome.result.reconciled is False
    assert resets_env.reset_calls() == (1, 0)


def test_a_bad_base_url_is_a_configuration_error_before_any_claim(resets_env):
    # Given a base URL whose port is not a number
    env = {**os.environ, "MAILOPS_EMBOUX_BASE_URL": "http://127.0.0.1:abc"}
    # When the command runs
    done = subprocess.run([sys.executable, "-m", "cli", "outbound", "reset-daily"],
                          env=env, capture_output=True, text=True, timeout=120)
    # Then one line names the setting, exit 2, and the day is not claimed
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "MAILOPS_EMBOUX_BASE_URL" in done.stderr and "port" in done.stderr
    assert resets_env.store.ledger.entry(JOB, today()) is None


# --- a claim left by a dead run is resolved from the remote state --------------------------


def start_reset_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`mailops outbound reset-daily` in a process of its own, against the test's Prefect."""
    from prefect.settings import PREFECT_API_URL

    return subprocess.Popen(
        [sys.executable, "-m", "cli", "outbound", "reset-daily"],
        env={**env, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def kill_once_calling(resets_env, process: subprocess.Popen[bytes], applied: bool) -> None:
    """SIGKILL the process once its call is in flight (applied, or held unapplied)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        entry = resets_env.store.ledger.entry(JOB, today())
        calling = entry is not None and entry.called_at is not None
        if calling and (resets_env.reset_calls()[0] == 1) == applied:
            break
        assert process.poll() is None, "the reset process ended before it was killed"
        time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("the reset process never reached its call")
    time.sleep(0.3 if not applied else 0)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_run_killed_while_its_applied_reset_was_unanswered_is_done_by_the_next_run(
    resets_env,
):
    # Given the sandbox applies the reset and then holds its answer back
    resets_env.sandbox.inject_fault(RESET_DAILY, "hold", hang_seconds=60, count=1)
    process = start_reset_process(dict(os.environ))
    # When the process is killed -9 while it waits for the answer
    kill_once_calling(resets_env, process, applied=True)
    left = resets_env.store.ledger.entry(JOB, today())
    assert left.status is LedgerStatus.STARTED and left.holder.pid == process.pid
    # Then the next run knows at once that the holder is dead, reconciles from the counters
    # the dead run recorded, and marks the day done without a second call
    outcome = run_daily()
    assert outcome.ok, outcome.message
    assert outcome.result.status == "done" and outcome.result.reconciled is True
    assert outcome.result.sent is False
    assert resets_env.reset_calls() == (1, 0)
    entry = resets_env.store.ledger.entry(JOB, today())
    assert entry.status is LedgerStatus.DONE and left.run_id in entry.detail


def test_a_run_killed_before_its_reset_was_applied_is_reset_once_by_the_next_run(resets_env):
    # Given the sandbox hangs on the reset without applying it
    resets_env.sandbox.inject_fault(RESET_DAILY, "hang", hang_seconds=60, count=1)
    process = start_reset_process(dict(os.environ))
    # When the process is killed -9 while its call hangs
    kill_once_calling(resets_env, process, applied=False)
    # Then the next run sees the counters as high as before the call, and resets once
    outcome = run_daily()
    assert outcome.ok and outcome.result.status == "done", outcome.message
    assert resets_env.reset_calls() == (1, 0)


def test_a_live_holder_is_never_raced(resets_env):
    # Given the day claimed by a process that is still running (this one)
    from mailops.process import this_holder

    resets_env.store.ledger.claim(JOB, today(), "run-alive", holder=this_holder(),
                           lease_until=datetime.now(UTC) - timedelta(hours=1))
    # When another run starts, even forced
    outcome = run_daily(force=True)
    # Then it sends nothing and says who is making the reset
    assert not outcome.ok and "is making the reset" in outcome.message
    assert "still running" in outcome.message
    assert resets_env.reset_calls() == (0, 0)


def test_a_holder_on_another_host_is_waited_for_until_its_lease_runs_out(resets_env):
    # Given the day claimed on another host, its call recorded, its lease still running
    from mailops.store import Holder

    other = Holder("another-host", 4242, "boot:1")
    resets_env.store.ledger.claim(JOB, today(), "run-elsewhere", holder=other,
                           lease_until=datetime.now(UTC) + timedelta(minutes=2))
    resets_env.store.ledger.record_call(JOB, today(), "run-elsewhere", json.dumps(
        {"outbound_sent_today": {}}))
    # When a run starts: it waits for that holder
    held = run_daily()
    assert not held.ok and "holds a lease" in held.message
    # When the lease has run out (the holder stopped renewing it)
    with resets_env.store.engine.begin() as conn:
        conn.execute(run_ledger.update().values(lease_until=datetime.now(UTC)
                                                - timedelta(seconds=1)))
    outcome = run_daily()
    # Then the run takes the day over; the counters (not zero: the call never reached the
    # sandbox) cannot tell without evidence, so the day is unknown and alerted, not reset
    assert outcome.result.status == "unknown", outcome.message
    assert resets_env.reset_calls() == (0, 0)
    # And a person's --force reconciles, then calls once
    forced = run_daily(force=True)
    assert forced.ok and forced.result.status == "done", forced.message
    assert resets_env.reset_calls() == (1, 0)


def test_force_never_calls_when_the_counters_show_the_reset_happened(resets_env):
    # Given a lost answer after an applied reset, whose check failed: the day is unknown
    resets_env.sandbox.inject_fault(RESET_DAILY, "lost_response", count=1)
    resets_env.sandbox.inject_fault("GET /emboux/domains", "malformed")
    assert run_daily().result.status == "unknown"
    resets_env.sandbox.clear_faults()
    # When a person forces the day
    forced = run_daily(force=True)
    # Then the counters (all zero) prove it happened: done, and no second reset
    assert forced.ok and forced.result.status == "done", forced.message
    assert forced.result.sent is False
    assert resets_env.reset_calls() == (1, 0)
