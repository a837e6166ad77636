"""The run ledger: an intent row written before a non-idempotent remote call.

A job claims a key (the UTC day of a daily reset, the month of a billing freeze) by
inserting its row; the primary key lets exactly one claimant win, across processes.
The winner calls the API and then records the outcome: `done`, `failed` (provably not
applied, so a later run may take the key again) or `unknown` (maybe applied: only an
explicit, forced retake may try again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailops.store.schema import run_ledger


class LedgerStatus(StrEnum):
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


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


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: `won` means this run, and only this run, may act."""

    won: bool
    entry: LedgerEntry


def claim(
    engine: Engine,
    job: str,
    key: str,
    run_id: str,
    *,
    retake: frozenset[LedgerStatus] = frozenset({LedgerStatus.FAILED}),
    now: datetime | None = None,
) -> Claim:
    """Try to take `job`/`key` for `run_id`; an existing row is retaken only from `retake`."""
    moment = now or datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(run_ledger).values(
                    job=job,
                    key=key,
                    status=LedgerStatus.STARTED.value,
                    run_id=run_id,
                    attempts=1,
                    started_at=moment,
                )
            )
    except IntegrityError:
        existing = get_entry(engine, job, key)
        if existing is None or existing.status not in retake:
            assert existing is not None
            return Claim(False, existing)
        with engine.begin() as conn:
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
                )
            ).rowcount
        entry = get_entry(engine, job, key)
        assert entry is not None
        return Claim(taken == 1, entry)
    entry = get_entry(engine, job, key)
    assert entry is not None
    return Claim(True, entry)


def finish(
    engine: Engine,
    job: str,
    key: str,
    run_id: str,
    status: LedgerStatus,
    detail: str | None = None,
    *,
    now: datetime | None = None,
) -> LedgerEntry:
    """Record the outcome of the claimed call; only the run holding the claim may."""
    with engine.begin() as conn:
        finish_on(conn, job, key, run_id, status, detail, now=now)
    entry = get_entry(engine, job, key)
    assert entry is not None
    return entry


def finish_on(
    conn: Connection,
    job: str,
    key: str,
    run_id: str,
    status: LedgerStatus,
    detail: str | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """`finish` inside the caller's transaction, so an outcome and its data commit together."""
    if status is LedgerStatus.STARTED:
        raise ValueError("finish records an outcome: done, failed or unknown")
    changed = conn.execute(
        update(run_ledger)
        .where(
            run_ledger.c.job == job,
            run_ledger.c.key == key,
            run_ledger.c.run_id == run_id,
        )
        .values(status=status.value, finished_at=now or datetime.now(UTC), detail=detail)
    ).rowcount
    if changed != 1:
        raise LookupError(f"run {run_id} holds no ledger claim on {job} {key}")


def get_entry(engine: Engine, job: str, key: str) -> LedgerEntry | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(run_ledger).where(run_ledger.c.job == job, run_ledger.c.key == key)
        ).one_or_none()
    return None if row is None else entry_of(row)


def entry_of(row: Row[Any]) -> LedgerEntry:
    """A run_ledger row as a LedgerEntry."""
    return LedgerEntry(
        job=row.job,
        key=row.key,
        status=LedgerStatus(row.status),
        run_id=row.run_id,
        attempts=row.attempts,
        started_at=row.started_at,
        finished_at=row.finished_at,
        detail=row.detail,
    )
