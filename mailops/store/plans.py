"""Stored plans: every remote change a gated job intends, and what became of each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, func, insert, select, update

from mailops.store.schema import audit_log, planned_changes


class ChangeStatus(StrEnum):
    """Where a planned change stands: still to make, made, or tried and failed (a resumed
    run tries it again)."""

    PLANNED = "planned"
    APPLIED = "applied"
    FAILED = "failed"


@dataclass(frozen=True)
class PlannedChange:
    """One intended remote change: `field` of `target` from `old_value` to `new_value`.

    `label` is what a person recognises (an email, a domain); `action` the verb (block,
    whitelist, accept, suspend, resume); `reason` why, in words.
    """

    target: str
    label: str
    field: str
    old_value: str | None
    new_value: str | None
    action: str
    reason: str


@dataclass(frozen=True)
class StoredChange:
    seq: int
    change: PlannedChange
    status: ChangeStatus
    detail: str | None


@dataclass(frozen=True)
class RecentChange:
    """One of a label's newest planned changes, as the dashboard lists them."""

    run_id: str
    action: str
    status: ChangeStatus
    old_value: str | None
    new_value: str | None
    reason: str
    planned_at: datetime
    applied_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What applying one change gave: applied, or failed with a message."""

    seq: int
    applied: bool
    detail: str | None = None


class Plans:
    """The stored plans of one database: what each gated run intends, and what became of it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(
        self, run_id: str, job: str, changes: Iterable[PlannedChange], *, batch: int = 5000
    ) -> int:
        """Store a plan in batches (a plan can have a million rows); returns its size."""
        moment = datetime.now(UTC)
        count = 0
        rows: list[dict[str, object]] = []
        with self.engine.begin() as conn:
            for seq, change in enumerate(changes, start=1):
                rows.append({
                    "run_id": run_id, "seq": seq, "job": job, "target": change.target,
                    "label": change.label, "field": change.field, "old_value": change.old_value,
                    "new_value": change.new_value, "action": change.action, "reason": change.reason,
                    "status": ChangeStatus.PLANNED.value, "planned_at": moment,
                })
                count = seq
                if len(rows) >= batch:
                    conn.execute(insert(planned_changes), rows)
                    rows = []
            if rows:
                conn.execute(insert(planned_changes), rows)
        return count

    def of_run(self, run_id: str, status: ChangeStatus | None = None) -> list[StoredChange]:
        """A run's plan in order, optionally only the changes in one status."""
        query = select(planned_changes).where(planned_changes.c.run_id == run_id)
        if status is not None:
            query = query.where(planned_changes.c.status == status.value)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(planned_changes.c.seq)).all()
        return [
            StoredChange(
                row.seq,
                PlannedChange(row.target, row.label, row.field, row.old_value, row.new_value,
                              row.action, row.reason),
                ChangeStatus(row.status),
                row.detail,
            )
            for row in rows
        ]

    def jobs_of_run(self, run_id: str) -> list[str]:
        """The jobs that stored a plan under `run_id` (none when no plan has that id)."""
        query = (select(planned_changes.c.job).where(planned_changes.c.run_id == run_id)
                 .distinct().order_by(planned_changes.c.job))
        with self.engine.connect() as conn:
            return [job for (job,) in conn.execute(query)]

    def counts(self, run_id: str) -> dict[tuple[str, str], int]:
        """How many changes of each (action, status) a run's plan holds."""
        query = (
            select(planned_changes.c.action, planned_changes.c.status, func.count())
            .where(planned_changes.c.run_id == run_id)
            .group_by(planned_changes.c.action, planned_changes.c.status)
        )
        with self.engine.connect() as conn:
            return {(action, status): n for action, status, n in conn.execute(query)}

    def record_outcomes(
        self, run_id: str, job: str, outcomes: Sequence[Outcome],
        changes: dict[int, PlannedChange],
    ) -> None:
        """Mark applied and failed changes, auditing the applied ones, in one transaction."""
        moment = datetime.now(UTC)
        audits = []
        with self.engine.begin() as conn:
            for outcome in outcomes:
                status = ChangeStatus.APPLIED if outcome.applied else ChangeStatus.FAILED
                conn.execute(
                    update(planned_changes)
                    .where(planned_changes.c.run_id == run_id, planned_changes.c.seq == outcome.seq)
                    .values(status=status.value, detail=outcome.detail,
                            applied_at=moment if outcome.applied else None)
                )
                if outcome.applied:
                    change = changes[outcome.seq]
                    audits.append({
                        "run_id": run_id, "job": job, "target": change.target,
                        "field": change.field, "old_value": change.old_value,
                        "new_value": change.new_value, "reason": change.reason,
                        "label": change.label, "changed_at": moment,
                    })
            if audits:
                conn.execute(insert(audit_log), audits)

    def recent(self, job: str, per_label: int) -> dict[str, list[RecentChange]]:
        """Each label's newest planned changes of one job (the guard's suspends and resumes)."""
        query = (
            select(planned_changes)
            .where(planned_changes.c.job == job)
            .order_by(planned_changes.c.planned_at.desc(), planned_changes.c.seq.desc())
        )
        found: dict[str, list[RecentChange]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                kept = found.setdefault(row.label, [])
                if len(kept) < per_label:
                    kept.append(RecentChange(
                        row.run_id, row.action, ChangeStatus(row.status), row.old_value,
                        row.new_value, row.reason, row.planned_at, row.applied_at,
                    ))
        return found


