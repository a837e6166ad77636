"""The audit log: every remote change mailops makes, with its previous value and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

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
    run_id: str
    job: str
    change: Change
    changed_at: datetime


def record_changes(
    engine: Engine,
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
        with engine.begin() as conn:
            conn.execute(insert(audit_log), rows)
    return len(rows)


def changes_of_run(engine: Engine, run_id: str) -> list[AuditRecord]:
    """Every change one run made, in the order it made them."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.run_id == run_id).order_by(audit_log.c.id)
        ).all()
    return [
        AuditRecord(
            run_id=row.run_id,
            job=row.job,
            change=Change(
                row.target, row.field, row.old_value, row.new_value, row.reason, row.label
            ),
            changed_at=row.changed_at,
        )
        for row in rows
    ]
