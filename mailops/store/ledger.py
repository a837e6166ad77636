"""The run ledger: an intent row written before a non-idempotent remote call.

A job claims a key (the UTC day of a daily reset, the month of a billing freeze) by
inserting its row; the primary key lets exactly one claimant win, across processes and hosts.
The row names its holder (host, process and the process's start marker) and a lease the
holder renews while it works, so a later run can tell a live holder from a dead one. Before
the call the holder records what reconciliation needs (`evidence`, the counters read before
it) and the moment it sends (`called_at`). The winner then records the outcome: `done`,
`failed` (provably not applied, so a later run may take the key again) or `unknown` (maybe
applied). A key retaken from `started`, `unknown` or `failed` hands the previous row to the
new holder, so it can reconcile before it calls again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from mailops.store.schema import run_ledger
from mailops.store.upsert import insert_if_absent


class LedgerStatus(StrEnum):
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Holder:
    """The process holding a claim: its host, process id, and a marker of that process's
    start (boot id and start time) so that a reused process id is not taken for it."""

    host: str
    pid: int
    token: str | None = None


@dataclass(frozen=True)
class LedgerEntry:
    job: str
    key: str
    status: LedgerStatus
    run_id: str | None
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    detail: str | None
    holder: Holder | None = None
    lease_until: datetime | None = None
    called_at: datetime | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: `won` means this run, and only this run, may act.

    `previous` is the row as it was before this run retook it (None for a fresh key): a
    `started` or `unknown` one with `called_at` set may have been applied, and the new
    holder reconciles from its `evidence` before calling again.
    """

    won: bool
    entry: LedgerEntry
    previous: LedgerEntry | None = None


class Ledger:
    """The run ledger of one database: claims, leases, calls and outcomes of once-only jobs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(
        self,
        job: str,
        key: str,
        run_id: str,
        *,
        holder: Holder | None = None,
        lease_until: datetime | None = None,
        retake: frozenset[LedgerStatus] = frozenset({LedgerStatus.FAILED}),
        expect: LedgerEntry | None = None,
        now: datetime | None = None,
    ) -> Claim:
        """Try to take `job`/`key` for `run_id`; an existing row is retaken only from `retake`,
        only if nobody else retook it first (the update compares its attempts), and with `expect`
        only while it is still that row (a holder judged dead is not confused with a new one)."""
        moment = now or datetime.now(UTC)
        holding = _holding(holder, lease_until)
        with self.engine.begin() as conn:
            fresh = insert_if_absent(conn, run_ledger, {
                "job": job, "key": key, "status": LedgerStatus.STARTED.value, "run_id": run_id,
                "attempts": 1, "started_at": moment, **holding,
            })
        if fresh:
            entry = self.entry(job, key)
            assert entry is not None
            return Claim(True, entry)
        existing = self.entry(job, key)
        assert existing is not None
        if existing.status not in retake or (
            expect is not None
            and (existing.attempts, existing.run_id) != (expect.attempts, expect.run_id)
        ):
            return Claim(False, existing)
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(run_ledger)
                .where(
                    run_ledger.c.job == job,
                    run_ledger.c.key == key,
                    run_ledger.c.status == existing.status.value,
                    run_ledger.c.attempts == existing.attempts,
                )
                .values(
                    status=LedgerStatus.STARTED.value,
                    run_id=run_id,
                    attempts=existing.attempts + 1,
                    started_at=moment,
                    finished_at=None,
                    detail=None,
                    called_at=None,
                    evidence=None,
                    **holding,
                )
            ).rowcount
        entry = self.entry(job, key)
        assert entry is not None
        return Claim(taken == 1, entry, existing if taken == 1 else None)

    def renew(self, job: str, key: str, run_id: str, lease_until: datetime) -> bool:
        """Extend the holder's lease; False when this run no longer holds the key."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(run_ledger)
                .where(run_ledger.c.job == job, run_ledger.c.key == key,
                       run_ledger.c.run_id == run_id,
                       run_ledger.c.status == LedgerStatus.STARTED.value)
                .values(lease_until=lease_until)
            ).rowcount == 1

    def record_call(
        self,
        job: str,
        key: str,
        run_id: str,
        evidence: str | None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Written just before the request leaves: from now on the call may have been applied,
        and `evidence` is what tells, should this run die before it knows."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(run_ledger)
                .where(run_ledger.c.job == job, run_ledger.c.key == key,
                       run_ledger.c.run_id == run_id,
                       run_ledger.c.status == LedgerStatus.STARTED.value)
                .values(called_at=now or datetime.now(UTC), evidence=evidence)
            ).rowcount
        if changed != 1:
            raise LookupError(f"run {run_id} holds no ledger claim on {job} {key}")

    def finish(
        self,
        job: str,
        key: str,
        run_id: str,
        status: LedgerStatus,
        detail: str | None = None,
        *,
        now: datetime | None = None,
    ) -> LedgerEntry:
        """Record the outcome of the claimed call; only the run holding the claim may."""
        with self.engine.begin() as conn:
            finish_on(conn, job, key, run_id, status, detail, now or datetime.now(UTC))
        entry = self.entry(job, key)
        assert entry is not None
        return entry

    def entry(self, job: str, key: str) -> LedgerEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(run_ledger).where(run_ledger.c.job == job, run_ledger.c.key == key)
            ).one_or_none()
        return None if row is None else entry_of(row)

    def tail(self, jobs: Sequence[str], limit: int) -> list[LedgerEntry]:
        """The newest once-only runs (resets, billing freezes) of these jobs first."""
        query = (
            select(run_ledger)
            .where(run_ledger.c.job.in_(list(jobs)))
            .order_by(run_ledger.c.started_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [entry_of(row) for row in rows]


def _holding(holder: Holder | None, lease_until: datetime | None) -> dict[str, Any]:
    return {
        "holder_host": holder.host if holder else None,
        "holder_pid": holder.pid if holder else None,
        "holder_token": holder.token if holder else None,
        "lease_until": lease_until,
    }


def finish_on(
    conn: Connection,
    job: str,
    key: str,
    run_id: str,
    status: LedgerStatus,
    detail: str | None,
    finished_at: datetime,
    *,
    whoever_holds: bool = False,
) -> None:
    """`finish` inside the caller's transaction, so an outcome and its data commit together.

    With `whoever_holds`, an outcome proven after the fact (a spooled answer imported later)
    is recorded whichever run holds the claim now, and the entry names `run_id`, the run
    whose call it was; otherwise `run_id` must hold the claim (LookupError)."""
    if status is LedgerStatus.STARTED:
        raise ValueError("finish records an outcome: done, failed or unknown")
    match = [run_ledger.c.job == job, run_ledger.c.key == key]
    if not whoever_holds:
        match.append(run_ledger.c.run_id == run_id)
    changed = conn.execute(
        update(run_ledger)
        .where(*match)
        .values(run_id=run_id, status=status.value, finished_at=finished_at, detail=detail,
                lease_until=None)
    ).rowcount
    if changed != 1:
        raise LookupError(f"run {run_id} holds no ledger claim on {job} {key}")


def entry_of(row: Row[Any]) -> LedgerEntry:
    """A run_ledger row as a LedgerEntry."""
    holder = (Holder(row.holder_host, row.holder_pid, row.holder_token)
              if row.holder_host is not None and row.holder_pid is not None else None)
    return LedgerEntry(
        job=row.job,
        key=row.key,
        status=LedgerStatus(row.status),
        run_id=row.run_id,
        attempts=row.attempts,
        started_at=row.started_at,
        finished_at=row.finished_at,
        detail=row.detail,
        holder=holder,
        lease_until=row.lease_until,
        called_at=row.called_at,
        evidence=row.evidence,
    )
