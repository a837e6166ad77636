"""Billing data: the snapshot taken before each monthly freeze, and the billed rows per month.

The freeze's rows are written in the same transaction as the ledger's `done`, so a period is
either billed and done, or neither: a crash in between cannot leave a done month without its
rows, nor rows that a retaken run would freeze a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, insert, select

from mailops.store.ledger import LedgerStatus, finish_on
from mailops.store.schema import billing_rows, billing_snapshot

Source = Literal["reset", "snapshot"]
SOURCES: tuple[str, ...] = ("reset", "snapshot")


@dataclass(frozen=True)
class BillingRow:
    """One domain's month: the counters `reset-monthly` freezes, plus its enforcement.

    `source` says where the numbers come from: `reset` (the call's own answer) or `snapshot`
    (read just before the call, used when the answer was lost but the reset was applied).
    `outbound_enforcement` is None only for a domain the snapshot did not see.
    """

    domain: str
    partner_ref: str | None
    outbound_sent_month: int
    outbound_monthly_limit: int
    outbound_enforcement: str | None
    bounce_count: int
    complaint_count: int
    bounce_rate: float
    complaint_rate: float
    source: str = "reset"



def _values(row: BillingRow) -> dict[str, Any]:
    values = asdict(row)
    values.pop("source")
    return values


def _row(row: Any, source: str) -> BillingRow:
    """A stored row (of the snapshot or the billed rows) as a BillingRow from `source`."""
    return BillingRow(**{name: getattr(row, name) for name in _STORED}, source=source)


_STORED = tuple(name for name in BillingRow.__dataclass_fields__ if name != "source")


def _replace_period(conn: Connection, table: Any, period: str, rows: list[dict]) -> None:
    conn.execute(delete(table).where(table.c.period == period))
    if rows:
        conn.execute(insert(table), rows)


def _billed(
    rows: Sequence[BillingRow], period: str, run_id: str, moment: datetime
) -> list[dict[str, Any]]:
    """The billing_rows values of a freeze; ValueError for a source that is not known."""
    for row in rows:
        if row.source not in SOURCES:
            raise ValueError(f"unknown billing source {row.source!r}")
    return [
        {**asdict(row), "period": period, "run_id": run_id, "frozen_at": moment}
        for row in rows
    ]


class Billing:
    """The billing data of one database: each freeze's snapshot and each month's billed rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_snapshot(
        self,
        period: str,
        run_id: str,
        rows: Sequence[BillingRow],
        *,
        now: datetime | None = None,
    ) -> int:
        """Keep the counters read before this run's call as the period's snapshot (replacing an
        earlier run's: only the latest snapshot before a call says what that call froze)."""
        moment = now or datetime.now(UTC)
        values = [
            {**_values(row), "period": period, "run_id": run_id, "taken_at": moment} for row in rows
        ]
        with self.engine.begin() as conn:
            _replace_period(conn, billing_snapshot, period, values)
        return len(values)

    def snapshot(self, period: str) -> list[BillingRow]:
        """The period's snapshot, as billing rows marked `snapshot`."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(billing_snapshot)
                .where(billing_snapshot.c.period == period)
                .order_by(billing_snapshot.c.domain)
            ).all()
        return [
            _row(row, source="snapshot") for row in found
        ]

    def complete_freeze(
        self,
        job: str,
        period: str,
        run_id: str,
        rows: Sequence[BillingRow],
        detail: str | None = None,
        *,
        now: datetime | None = None,
        whoever_holds: bool = False,
    ) -> int:
        """Store the period's billing rows and mark the ledger `done`, in one transaction.

        Raises LookupError (and writes nothing) when `run_id` does not hold the claim; with
        `whoever_holds` (a spooled reset-monthly answer, which proves the reset applied and beats
        a later run's snapshot) whichever run holds it now.
        """
        moment = now or datetime.now(UTC)
        values = _billed(rows, period, run_id, moment)
        with self.engine.begin() as conn:
            _replace_period(conn, billing_rows, period, values)
            finish_on(conn, job, period, run_id, LedgerStatus.DONE, detail, moment,
                      whoever_holds=whoever_holds)
        return len(values)

    def rows(self, period: str) -> list[BillingRow]:
        """The billed rows of a period, by partner and domain (domains without a partner first,
        on every database: PostgreSQL sorts NULL last by default, SQLite first)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(billing_rows)
                .where(billing_rows.c.period == period)
                .order_by(billing_rows.c.partner_ref.nulls_first(), billing_rows.c.domain)
            ).all()
        return [
            _row(row, source=row.source) for row in found
        ]

    def periods(self) -> list[str]:
        """Every period that has billing rows, newest first."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(billing_rows.c.period).distinct().order_by(billing_rows.c.period.desc())
            ).all()
        return [row.period for row in found]


