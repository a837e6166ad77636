"""The audit log: every remote change mailops makes, with its previous value and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select

from mailops.store.schema import audit_log


@dataclass(frozen=True)
class Change:
    """One field of one remote object, changed from `old_value` to `new_value`."""

    target: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    label: str | None = None  # what a person recognises: the contact's email, the domain


@dataclass(frozen=True)
class AuditRecord:
    """One audited change: which run of which job made it, and when (`id` orders them)."""

    run_id: str
    job: str
    change: Change
    changed_at: datetime
    id: int = 0


def _record(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        run_id=row.run_id,
        job=row.job,
        change=Change(row.target, row.field, row.old_value, row.new_value, row.reason,
                      row.label),
        changed_at=row.changed_at,
        id=row.id,
    )


class AuditLog:
    """The audit log of one database: every remote change appended, read back by run or
    newest first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        run_id: str,
        job: str,
        changes: Iterable[Change],
        *,
        now: datetime | None = None,
    ) -> int:
        """Append changes to the audit log in one transaction; returns how many."""
        moment = now or datetime.now(UTC)
        rows = [
            {
                "run_id": run_id,
                "job": job,
                "target": change.target,
                "field": change.field,
                "old_value": change.old_value,
                "new_value": change.new_value,
                "reason": change.reason,
                "label": change.label,
                "changed_at": moment,
            }
            for change in changes
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(audit_log), rows)
        return len(rows)

    def of_run(self, run_id: str) -> list[AuditRecord]:
        """Every change one run made, in the order it made them."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log).where(audit_log.c.run_id == run_id).order_by(audit_log.c.id)
            ).all()
        return [_record(row) for row in rows]

    def tail(self, limit: int, job: str | None = None) -> list[AuditRecord]:
        """The newest audited changes first (optionally of one job)."""
        query = select(audit_log).order_by(audit_log.c.changed_at.desc(), audit_log.c.id.desc())
        if job:
            query = query.where(audit_log.c.job == job)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_record(row) for row in rows]


