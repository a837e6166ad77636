"""Billing data in the store: the snapshot before a freeze, the billed rows and the ledger's
`done` together, and the months billed."""

from __future__ import annotations

import pytest

from mailops.store import BillingRow, LedgerStatus

JOB = "billing-freeze"


def row(domain: str, partner: str | None, sent: int, source: str = "reset") -> BillingRow:
    return BillingRow(domain, partner, sent, 1_000, "soft", 2, 1, 0.2, 0.1, source)


def test_a_later_snapshot_replaces_the_earlier_one_of_the_period(any_store):
    first = [row("a.com", "p", 5), row("b.com", "p", 7)]
    any_store.billing.save_snapshot("2026-10", "run-1", first)
    any_store.billing.save_snapshot("2026-10", "run-2", [row("a.com", "p", 9)])
    any_store.billing.save_snapshot("2026-11", "run-3", [row("c.com", "p", 1)])
    assert any_store.billing.snapshot("2026-10") == [row("a.com", "p", 9, source="snapshot")]


def test_billed_rows_come_by_partner_then_domain_with_partnerless_domains_first(any_store):
    # Given a month frozen with domains of two partners and one without a partner
    rows = [row("z.com", "p-b", 1), row("b.com", "p-a", 2), row("a.com", "p-b", 3),
            row("orphan.com", None, 4)]
    any_store.ledger.claim(JOB, "2026-10", "run-1")
    # When the rows and the ledger's done are stored together
    assert any_store.billing.complete_freeze(JOB, "2026-10", "run-1", rows, "4 domains") == 4
    # Then they read back in the same order on every database
    assert [r.domain for r in any_store.billing.rows("2026-10")] == [
        "orphan.com", "b.com", "a.com", "z.com"]
    assert any_store.ledger.entry(JOB, "2026-10").status is LedgerStatus.DONE


def test_a_freeze_by_a_run_without_the_claim_writes_no_rows(any_store):
    any_store.ledger.claim(JOB, "2026-10", "run-1")
    with pytest.raises(LookupError):
        any_store.billing.complete_freeze(JOB, "2026-10", "run-2", [row("a.com", "p", 1)])
    assert any_store.billing.rows("2026-10") == []
    assert any_store.ledger.entry(JOB, "2026-10").status is LedgerStatus.STARTED


def test_billed_periods_are_listed_newest_first(any_store):
    for period in ("2026-09", "2026-11", "2026-10"):
        any_store.ledger.claim(JOB, period, f"run-{period}")
        any_store.billing.complete_freeze(JOB, period, f"run-{period}", [row("a.com", "p", 1)])
    assert any_store.billing.periods() == ["2026-11", "2026-10", "2026-09"]
