"""The chaos run, small: three simulated days (a month's turn and a Monday) with faults on
every endpoint and each API down for an hour, and the bad-input corpus, then the
reconciliation, which must find nothing; and the same reconciliation catching differences
planted in the evidence."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from sandbox.corpus import BAD_ANSWERS
from sandbox.fault_plan import RATES, TARGETS

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

# Oct 31, Nov 1 (billing freeze) and Nov 2 (a Monday: contact cleanup, weekly report); seed
# 2 puts EmBoux's outage on Oct 31, Cleanbox's on the 1st and Slack's on the Monday.
START = datetime.fromisoformat("2026-10-30T00:00+00:00")
DAYS, SEED, RATE_SCALE = 3, 2, 0.25


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One small chaos run for the module (it sets its own environment; undone after)."""
    from sandbox.chaos import run_chaos

    saved = dict(os.environ)
    try:
        yield run_chaos(days=DAYS, seed=SEED, start=START, rate_scale=RATE_SCALE,
                        folder=tmp_path_factory.mktemp("chaos") / "run")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_every_job_on_schedule_under_faults_loses_nothing_and_does_nothing_twice(chaos):
    # Given three simulated days with every kind of fault on every API and three outages
    assert {f"{api} {rate.kind}" for api in TARGETS for rate in RATES} <= set(chaos.faults)
    assert {f"{api} down" for api in TARGETS} <= set(chaos.faults)
    assert set(chaos.runs) >= {"daily-health", "outbound-guard", "quarantine-accept",
                               "contact-cleanup", "outbound-reset-daily", "billing-freeze",
                               "weekly-report", "verification-watch", "domain-onboarding"}
    # Then no run raised, and the reconciliation found no difference
    assert chaos.unexpected == []
    assert [str(d) for d in chaos.differences] == []
    assert chaos.survived == chaos.faults_injected > 0
    # And every bad answer of the corpus was handled by every job that read it
    expected = sum(len(case.jobs) for case in BAD_ANSWERS) + 1  # and the hostile data
    assert len(chaos.corpus) == expected
    assert [c.case for c in chaos.corpus if not c.handled] == []
    # And it compared real things: every collection, change, reset and post
    checked = chaos.checked
    assert checked["collections"] == DAYS and checked["team rows"] > 0
    assert checked["changes applied"] > 100 and checked["audit rows"] > 100
    assert checked["daily resets"] >= DAYS and checked["monthly resets"] == 1
    assert checked["billing rows"] > 0 and checked["Slack posts"] > 0
    assert checked["Slack messages in the outbox"] > 0  # Slack was down on the Monday
    assert "differences found 0 (goal: 0)" in chaos.figure()


def reconciled_with(chaos, **changes):
    """The run's reconciliation over its evidence with some parts replaced."""
    from sandbox.chaos import reconcile_all

    evidence = dataclasses.replace(chaos.evidence, **changes)
    differences, _ = reconcile_all(evidence, chaos.scheduled["days"],
                                   chaos.scheduled["periods"])
    return differences


def tampered_tables(chaos, tmp_path: Path, *statements: str) -> dict:
    """The store's tables after running SQL on a copy of the run's database."""
    from mailops.store import Store

    copy = tmp_path / "tampered.db"
    shutil.copy(chaos.folder / "mailops.db", copy)
    with sqlite3.connect(copy) as db:
        for statement in statements:
            db.execute(statement)
    with Store(f"sqlite:///{copy}") as store:
        return store.every_row()


def test_a_stored_number_changed_behind_the_jobs_back_is_found(chaos, tmp_path):
    tables = tampered_tables(chaos, tmp_path, "UPDATE team_daily SET failed_24h = failed_24h + 1"
                             " WHERE rowid = (SELECT min(rowid) FROM team_daily)")
    [found] = reconciled_with(chaos, tables=tables)
    assert found.check == "metrics" and "failed_24h stored" in found.message


def test_a_duplicated_audit_row_is_found(chaos, tmp_path):
    tables = tampered_tables(chaos, tmp_path, (
        "INSERT INTO audit_log (run_id, job, target, field, old_value, new_value, reason, "
        "changed_at, label) SELECT run_id, job, target, field, old_value, new_value, reason, "
        "changed_at, label FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)"))
    [found] = reconciled_with(chaos, tables=tables)
    assert found.check == "audit" and "duplicated audit row" in found.message


def test_a_second_reset_a_message_posted_twice_and_a_key_in_a_file_are_found(chaos):
    emboux = dict(chaos.evidence.emboux)
    emboux["reset_daily_log"] = [*emboux["reset_daily_log"], emboux["reset_daily_log"][-1]]
    posts = chaos.evidence.slack_posts
    places = [*chaos.evidence.places,
              ("file reports/leak.txt", f"key={next(iter(chaos.evidence.secrets.values()))}")]
    found = reconciled_with(chaos, emboux=emboux, slack_posts=[*posts, posts[0]],
                            places=places)
    assert sorted(d.check for d in found) == ["resets", "secrets", "slack"]
    [secret] = [d for d in found if d.check == "secrets"]
    assert secret.subject == "file reports/leak.txt" and secret.message.startswith("holds the")
