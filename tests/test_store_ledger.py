"""The run ledger: exactly one claimant wins a key; outcomes decide who may try again."""

from __future__ import annotations

import threading

import pytest

from mailops.store import LedgerStatus, Store


def test_the_first_claim_wins_and_a_second_loses(any_store):
    assert any_store.claim("outbound-reset-daily", "2026-10-01", "run-1").won
    second = any_store.claim("outbound-reset-daily", "2026-10-01", "run-2")
    assert not second.won
    assert second.entry.run_id == "run-1" and second.entry.status is LedgerStatus.STARTED


def test_a_finished_key_cannot_be_claimed_again(any_store):
    any_store.claim("billing-freeze", "2026-10", "run-1")
    any_store.finish("billing-freeze", "2026-10", "run-1", LedgerStatus.DONE, "50 domains")
    again = any_store.claim("billing-freeze", "2026-10", "run-2")
    assert not again.won and again.entry.status is LedgerStatus.DONE
    assert again.entry.detail == "50 domains"


def test_a_failed_call_may_be_retaken_by_a_later_run(any_store):
    any_store.claim("outbound-reset-daily", "2026-10-01", "run-1")
    any_store.finish("outbound-reset-daily", "2026-10-01", "run-1", LedgerStatus.FAILED)
    retaken = any_store.claim("outbound-reset-daily", "2026-10-01", "run-2")
    assert retaken.won and retaken.entry.attempts == 2 and retaken.entry.run_id == "run-2"


def test_an_unknown_outcome_is_retaken_only_when_forced(any_store):
    any_store.claim("outbound-reset-daily", "2026-10-01", "run-1")
    any_store.finish("outbound-reset-daily", "2026-10-01", "run-1", LedgerStatus.UNKNOWN)
    assert not any_store.claim("outbound-reset-daily", "2026-10-01", "run-2").won
    forced = any_store.claim(
        "outbound-reset-daily", "2026-10-01", "run-3",
        retake=frozenset({LedgerStatus.FAILED, LedgerStatus.UNKNOWN}),
    )
    assert forced.won


def test_only_the_holder_may_record_the_outcome(any_store):
    any_store.claim("billing-freeze", "2026-10", "run-1")
    with pytest.raises(LookupError, match="run-2 holds no ledger claim"):
        any_store.finish("billing-freeze", "2026-10", "run-2", LedgerStatus.DONE)


def test_racing_claimants_on_separate_connections_have_exactly_one_winner(tmp_path):
    # Given one database file and eight workers, each with its own store (own connections)
    url = f"sqlite:///{tmp_path / 'race.db'}"
    Store(url).upgrade()
    results: list[bool] = []
    start = threading.Barrier(8)

    def claimant(number: int) -> None:
        store = Store(url)
        start.wait()
        results.append(store.claim("outbound-reset-daily", "2026-10-01", f"run-{number}").won)
        store.close()

    # When they all claim the same day at once
    workers = [threading.Thread(target=claimant, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Then exactly one won
    assert sorted(results) == [False] * 7 + [True]


def test_finish_refuses_started_as_an_outcome(any_store):
    any_store.claim("billing-freeze", "2026-10", "run-1")
    with pytest.raises(ValueError):
        any_store.finish("billing-freeze", "2026-10", "run-1", LedgerStatus.STARTED)
