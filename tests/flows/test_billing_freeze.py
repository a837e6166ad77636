"""billing-freeze against the sandbox over HTTP: one reset-monthly per month, no billing lost."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from mailops.rules.resets import previous_period
from mailops.store import LedgerStatus

pytestmark = pytest.mark.usefixtures("prefect_harness")

RESET_MONTHLY = "POST /emboux/outbound/reset-monthly"
JOB = "billing-freeze"


def run_freeze(**parameters: Any):
    from flows.billing_freeze import billing_freeze
    from flows.run import run_flow

    return run_flow(billing_freeze, **parameters)


def period() -> str:
    return previous_period(datetime.now(UTC))


def month_of(counters: dict[str, dict[str, Any]]) -> dict[str, tuple]:
    """What a billing row must hold for each domain, from the sandbox's ground truth."""
    return {
        name: (
            d["partner_ref"], d["outbound_sent_month"], d["outbound_monthly_limit"],
            d["bounce_count"], d["complaint_count"], d["bounce_rate"], d["complaint_rate"],
        )
        for name, d in counters.items()
    }


def billed(store, month: str) -> dict[str, tuple]:
    return {
        row.domain: (
            row.partner_ref, row.outbound_sent_month, row.outbound_monthly_limit,
            row.bounce_count, row.complaint_count, row.bounce_rate, row.complaint_rate,
        )
        for row in store.billing.rows(month)
    }


def test_a_second_freeze_of_the_month_sends_nothing(resets_env, cli):
    # Given a month of counters that has not been frozen
    before = month_of(resets_env.counters())
    assert sum(row[1] for row in before.values()) > 0
    # When the command runs twice
    first = CliRunner().invoke(cli, ["outbound", "freeze-month", "--json"])
    second = CliRunner().invoke(cli, ["outbound", "freeze-month"])
    # Then the first froze every domain from the answer, the second sent nothing
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout.strip().splitlines()[-1])
    assert body["ok"] and body["status"] == "done" and body["source"] == "reset"
    assert body["period"] == period() and body["billing_rows"] == len(before)
    assert second.exit_code == 0, second.output
    assert f"The billing freeze of {period()} is already done" in second.stdout
    assert resets_env.reset_calls() == (0, 1)
    # And the billing rows are the counters before the reset, with each domain's enforcement
    assert billed(resets_env.store, period()) == before
    enforcement = {n: d["outbound_enforcement"] for n, d in resets_env.counters().items()}
    rows = resets_env.store.billing.rows(period())
    assert {r.domain: r.outbound_enforcement for r in rows} == enforcement
    assert {r.source for r in rows} == {"reset"}
    assert resets_env.store.ledger.entry(JOB, period()).status is LedgerStatus.DONE


def test_a_lost_answer_bills_the_snapshot_which_equals_the_counters_before_the_reset(
    resets_env,
):
    # Given reset-monthly is applied but its answer (the frozen rows) never arrives
    before = month_of(resets_env.counters())
    resets_env.sandbox.inject_fault(RESET_MONTHLY, "lost_response", count=1)
    # When the flow runs, and again
    outcome = run_freeze()
    again = run_freeze()
    # Then the counters (now zero) proved the reset, and the snapshot became the billing rows
    assert outcome.ok, outcome.message
    assert outcome.result.source == "snapshot" and outcome.result.reconciled
    assert billed(resets_env.store, period()) == before
    assert {r.source for r in resets_env.store.billing.rows(period())} == {"snapshot"}
    # And nothing was resent, now or by the second run
    assert again.ok and again.result.status == "already_done"
    assert resets_env.reset_calls() == (0, 1)


def test_a_call_that_timed_out_before_reaching_the_server_is_safely_made_once_more(resets_env):
    # Given the first call hangs and times out before the server acts on it
    before = month_of(resets_env.counters())
    resets_env.sandbox.inject_fault(RESET_MONTHLY, "hang", count=1, hang_seconds=5)
    # When the flow runs
    outcome = run_freeze()
    # Then the unchanged counters proved it was not applied, and one more call froze the month
    assert outcome.ok, outcome.message
    assert outcome.result.calls == 2 and outcome.result.source == "reset"
    assert resets_env.reset_calls() == (0, 1)
    assert billed(resets_env.store, period()) == before


def test_counters_that_neither_all_dropped_nor_all_stayed_leave_the_month_to_force(
    resets_env, monkeypatch
):
    # Given a lost answer after which one domain's counters are above its snapshot
    counters = resets_env.counters()
    busy = max(counters, key=lambda name: counters[name]["outbound_sent_month"])
    sim = resets_env.sandbox.world.emboux
    original = sim.reset_monthly

    def partly_reset() -> dict[str, Any]:
        answer = original()
        domain = sim.domain(busy)
        domain.sent_month = counters[busy]["outbound_sent_month"] + 5
        domain.bounce_count = counters[busy]["bounce_count"]
        domain.complaint_count = counters[busy]["complaint_count"]
        return answer

    monkeypatch.setattr(sim, "reset_monthly", partly_reset)
    resets_env.sandbox.inject_fault(RESET_MONTHLY, "lost_response", count=1)
    # When the flow runs
    outcome = run_freeze()
    # Then it neither resends nor bills: the month is unknown, alerted, and left to --force
    assert not outcome.ok and outcome.result.status == "unknown"
    assert busy in outcome.message and "--force" in outcome.message
    assert resets_env.reset_calls() == (0, 1)
    assert resets_env.store.billing.rows(period()) == []
    assert resets_env.store.ledger.entry(JOB, period()).status is LedgerStatus.UNKNOWN
    alerts = resets_env.store.alerts.of_day(datetime.now(UTC).date(), JOB)
    assert [a.key for a in alerts] == ["reset_outcome_unknown"]
    # When it runs again unforced, nothing is sent; forced, exactly one more call
    assert not run_freeze().ok
    assert resets_env.reset_calls() == (0, 1)
    forced = run_freeze(force=True)
    assert forced.ok and forced.result.source == "reset"
    assert resets_env.reset_calls() == (0, 2)


def test_a_customer_token_gets_a_clear_error_and_freezes_nothing(resets_env, cli):
    # Given a customer token
    resets_env.use_token(next(iter(resets_env.sandbox.customer_tokens.values())))
    # When the command runs
    result = CliRunner().invoke(cli, ["outbound", "freeze-month", "--json"])
    # Then one JSON error says the master token is needed, and nothing was reset or billed
    assert result.exit_code == 1
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["ok"] is False and "needs the EmBoux master token" in body["error"]
    assert resets_env.reset_calls() == (0, 0)
    assert resets_env.store.billing.rows(period()) == []
    assert resets_env.store.ledger.entry(JOB, period()).status is LedgerStatus.FAILED


def test_the_running_month_is_refused_before_anything_runs(resets_env, cli):
    # Given the month still running
    running = datetime.now(UTC).strftime("%Y-%m")
    # When a person names it
    result = CliRunner().invoke(cli, ["outbound", "freeze-month", "--period", running])
    # Then one line says it has not ended, exit 2, and nothing was frozen or claimed
    assert result.exit_code == 2, result.output
    assert f"{running} has not ended yet" in result.output
    assert resets_env.reset_calls() == (0, 0)
    assert resets_env.store.ledger.entry(JOB, running) is None


def test_a_dead_run_whose_freeze_was_applied_is_billed_from_its_snapshot_without_a_call(
    resets_env,
):
    # Given a run that stored its snapshot, sent the reset (applied), and died before the answer
    from mailops.store import BillingRow, Holder

    month, before = period(), month_of(resets_env.counters())
    snapshot = [BillingRow(name, d["partner_ref"], d["outbound_sent_month"],
                           d["outbound_monthly_limit"], "soft", d["bounce_count"],
                           d["complaint_count"], d["bounce_rate"], d["complaint_rate"])
                for name, d in resets_env.counters().items()]
    gone = Holder("another-host", 4242, "boot:1")
    store = resets_env.store
    store.ledger.claim(JOB, month, "run-dead", holder=gone,
                lease_until=datetime.now(UTC) - timedelta(minutes=1))
    store.billing.save_snapshot(month, "run-dead", snapshot)
    store.ledger.record_call(JOB, month, "run-dead", None)
    resets_env.sandbox.inject_fault(RESET_MONTHLY, "lost_response", count=1)
    from mailops.emboux import EmbouxClient  # the dead run's call, made by hand
    from mailops.settings import load_settings

    async def dead_call() -> None:
        async with EmbouxClient.from_settings(load_settings()) as client:
            with pytest.raises(Exception, match="may or may not"):
                await client.reset_monthly()

    asyncio.run(dead_call())
    assert resets_env.reset_calls() == (0, 1)
    # When the next run starts
    outcome = run_freeze()
    # Then it reconciles from the stored snapshot: done, billed from it, no second reset
    assert outcome.ok, outcome.message
    assert outcome.result.status == "done" and outcome.result.source == "snapshot"
    assert resets_env.reset_calls() == (0, 1)
    assert billed(store, month) == before


def test_an_answer_the_store_cannot_take_is_spooled_and_billed_by_the_next_run(
    resets_env, monkeypatch
):
    # Given a store that breaks while reset-monthly is being applied (the sandbox holds the
    # answer back; meanwhile the SQLite file is backed up, then overwritten with garbage)
    import sqlite3
    import threading
    import time
    from pathlib import Path

    import tasks.outbound as outbound

    monkeypatch.setenv("MAILOPS_HTTP__READ_TIMEOUT", "10")
    monkeypatch.setattr(outbound, "complete_freeze",
                        outbound.complete_freeze.with_options(retry_delay_seconds=0))
    path = Path(resets_env.store.engine.url.database)
    backup = path.with_name("backup.sqlite")
    month, before = period(), month_of(resets_env.counters())
    resets_env.sandbox.inject_fault(RESET_MONTHLY, "hold", hang_seconds=2, count=1)

    def break_the_store_once_applied() -> None:
        while resets_env.reset_calls() == (0, 0):
            time.sleep(0.05)
        live, copy = sqlite3.connect(path), sqlite3.connect(backup)
        live.backup(copy)
        live.close()  # closed before the garbage: a last WAL connection checkpoints on close
        copy.close()
        resets_env.store.engine.dispose()
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        path.write_bytes(b"this is not a database\x00\xff" * 512)

    breaker = threading.Thread(target=break_the_store_once_applied)
    breaker.start()
    # When the freeze runs
    outcome = run_freeze()
    breaker.join()
    # Then it fails saying the reset was applied and where its billing rows are kept
    assert not outcome.ok and outcome.result.status == "spooled"
    spool_file = Path(outcome.result.spool)
    assert spool_file.is_file() and str(spool_file) in outcome.message
    assert "was applied" in outcome.message
    # When the store works again and the next run starts
    path.write_bytes(backup.read_bytes())
    again = run_freeze()
    # Then it imported the spool first: the month is done, billed from the answer, no second
    # reset, and the spool file moved under imported/
    assert again.ok, again.message
    assert again.result.status == "already_done"
    assert again.result.spool.imported == [spool_file.name]
    assert not spool_file.exists() and (spool_file.parent / "imported" / spool_file.name).exists()
    assert resets_env.reset_calls() == (0, 1)
    assert billed(resets_env.store, month) == before
    assert {r.source for r in resets_env.store.billing.rows(month)} == {"reset"}
    entry = resets_env.store.ledger.entry(JOB, month)
    assert entry.status is LedgerStatus.DONE and "imported from the spool" in entry.detail
