"""The run ledger: exactly one claimant wins a key; outcomes decide who may try again."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fixtures_store import race_processes

from mailops.store import LedgerStatus, Store

JOB = "outbound-reset-daily"
DAY = "2026-10-01"


def test_the_first_claim_wins_and_a_second_loses(any_store):
    assert any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-1").won
    second = any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-2")
    assert not second.won
    assert second.entry.run_id == "run-1" and second.entry.status is LedgerStatus.STARTED


def test_a_finished_key_cannot_be_claimed_again(any_store):
    any_store.ledger.claim("billing-freeze", "2026-10", "run-1")
    any_store.ledger.finish("billing-freeze", "2026-10", "run-1", LedgerStatus.DONE, "50 domains")
    again = any_store.ledger.claim("billing-freeze", "2026-10", "run-2")
    assert not again.won and again.entry.status is LedgerStatus.DONE
    assert again.entry.detail == "50 domains"


def test_a_failed_call_may_be_retaken_by_a_later_run(any_store):
    any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-1")
    any_store.ledger.finish("outbound-reset-daily", "2026-10-01", "run-1", LedgerStatus.FAILED)
    retaken = any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-2")
    assert retaken.won and retaken.entry.attempts == 2 and retaken.entry.run_id == "run-2"


def test_an_unknown_outcome_is_retaken_only_when_forced(any_store):
    any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-1")
    any_store.ledger.finish("outbound-reset-daily", "2026-10-01", "run-1", LedgerStatus.UNKNOWN)
    assert not any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-2").won
    forced = any_store.ledger.claim(
        "outbound-reset-daily", "2026-10-01", "run-3",
        retake=frozenset({LedgerStatus.FAILED, LedgerStatus.UNKNOWN}),
    )
    assert forced.won


def test_only_the_holder_may_record_the_outcome(any_store):
    any_store.ledger.claim("billing-freeze", "2026-10", "run-1")
    with pytest.raises(LookupError, match="run-2 holds no ledger claim"):
        any_store.ledger.finish("billing-freeze", "2026-10", "run-2", LedgerStatus.DONE)


def race(url: str, claimants: int, **claim: object) -> list[bool]:
    """`claimants` threads, each with its own store on `url`, claim the same day at once."""
    results: list[bool] = []
    start = threading.Barrier(claimants)

    def claimant(number: int) -> None:
        with Store(url) as store:
            start.wait()
            results.append(store.ledger.claim(JOB, DAY, f"run-{number}", **claim).won)

    workers = [threading.Thread(target=claimant, args=(n,)) for n in range(claimants)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_racing_claimants_on_separate_connections_have_exactly_one_winner(any_store):
    # Given one database and eight workers, each with its own store (own connections)
    # When they all claim the same day at once
    results = race(any_store.url, 8)
    # Then exactly one won
    assert sorted(results) == [False] * 7 + [True]


def test_racing_retakes_of_a_failed_day_have_exactly_one_winner(any_store):
    # Given a day whose first reset failed (a later run may retake it)
    any_store.ledger.claim(JOB, DAY, "run-first")
    any_store.ledger.finish(JOB, DAY, "run-first", LedgerStatus.FAILED)
    # When eight workers retake it at once, then exactly one did, on the second attempt
    assert sorted(race(any_store.url, 8)) == [False] * 7 + [True]
    assert any_store.ledger.entry(JOB, DAY).attempts == 2


def claim_when_all_are_ready(url: str, run_id: str, start: Any, results: Any) -> None:
    """One OS process: open its own store, wait for the others, claim the day."""
    with Store(url) as store:
        start.wait(timeout=60)
        results.put((run_id, store.ledger.claim(JOB, DAY, run_id).won))


def test_two_processes_claiming_the_same_day_at_once_have_exactly_one_winner(any_store):
    # Given two OS processes, each with its own store on the same database
    # When both claim the day's reset at the same moment
    outcomes = dict(race_processes(claim_when_all_are_ready, (any_store.url, "process-0"),
                                   (any_store.url, "process-1")))
    # Then exactly one won, and the ledger names it
    winners = [run_id for run_id, won in outcomes.items() if won]
    assert len(outcomes) == 2 and len(winners) == 1
    assert any_store.ledger.entry(JOB, DAY).run_id == winners[0]


def test_finish_refuses_started_as_an_outcome(any_store):
    any_store.ledger.claim("billing-freeze", "2026-10", "run-1")
    with pytest.raises(ValueError):
        any_store.ledger.finish("billing-freeze", "2026-10", "run-1", LedgerStatus.STARTED)


def test_a_claim_records_its_holder_lease_and_the_evidence_of_its_call(any_store):
    # Given a claim by a named holder
    from datetime import UTC, datetime, timedelta

    from mailops.store import Holder

    me, lease = Holder("host-a", 101, "boot:7"), datetime(2026, 10, 1, 0, 2, tzinfo=UTC)
    any_store.ledger.claim(JOB, DAY, "run-1", holder=me, lease_until=lease)
    # When it renews its lease and records its call
    assert any_store.ledger.renew(JOB, DAY, "run-1", lease + timedelta(minutes=1))
    any_store.ledger.record_call(JOB, DAY, "run-1", '{"outbound_sent_today": {"a.com": 3}}')
    # Then the row says who holds it, until when, and what was read before the call
    entry = any_store.ledger.entry(JOB, DAY)
    assert entry.holder == me and entry.lease_until == lease + timedelta(minutes=1)
    assert entry.called_at is not None and "a.com" in entry.evidence
    # And another run can neither renew nor record on it
    assert not any_store.ledger.renew(JOB, DAY, "run-2", lease)
    with pytest.raises(LookupError):
        any_store.ledger.record_call(JOB, DAY, "run-2", None)


def test_a_retaken_claim_hands_the_previous_row_to_the_new_holder(any_store):
    # Given a run that recorded its call and then was taken for dead
    any_store.ledger.claim(JOB, DAY, "run-1")
    any_store.ledger.record_call(JOB, DAY, "run-1", '{"outbound_sent_today": {}}')
    dead = any_store.ledger.entry(JOB, DAY)
    # When a second run takes it over, expecting that very row
    taken = any_store.ledger.claim(JOB, DAY, "run-2", retake=frozenset({LedgerStatus.STARTED}),
                            expect=dead)
    # Then it won, its own row has no call yet, and the previous row carries the evidence
    assert taken.won and taken.entry.called_at is None and taken.entry.run_id == "run-2"
    assert taken.previous is not None and taken.previous.called_at is not None
    # And a third run expecting the dead row loses: the claim changed hands already
    late = any_store.ledger.claim(JOB, DAY, "run-3", retake=frozenset({LedgerStatus.STARTED}),
                           expect=dead)
    assert not late.won and late.entry.run_id == "run-2"
