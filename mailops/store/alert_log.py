"""The alerts each job raised per day: stored once per rule and subject, replaced by a re-run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine, bindparam, delete, insert, select

from mailops.rules.alerts import Alert, Severity
from mailops.store.schema import alerts
from mailops.store.upsert import upsert


def _unique(found: Sequence[Alert]) -> list[Alert]:
    """One alert per rule and subject as stored (a stranger's very long address is cut to
    the column, with an ellipsis): the first found wins."""
    seen: dict[tuple[str, str], Alert] = {}
    width = alerts.c.subject.type.length or 0
    for alert in found:
        if width and len(alert.subject) > width:
            alert = replace(alert, subject=alert.subject[: width - 1] + "…")
        seen.setdefault((alert.key, alert.subject), alert)
    return list(seen.values())


class AlertLog:
    """The `alerts` table: a job's alerts of a day, as its last run found them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(
        self,
        day: date,
        job: str,
        found: Sequence[Alert],
        *,
        now: datetime | None = None,
        within: Callable[[str, str], bool] | None = None,
    ) -> int:
        """Store one job's alerts for one day, replacing what an earlier run of it found.

        within: for a run that did part of the work (a shard), whether an alert (key,
        subject) is about that part: only those earlier alerts are replaced, the other
        parts' are kept.
        """
        moment = now or datetime.now(UTC)
        rows = [
            {
                "day": day, "job": job, "key": alert.key, "subject": alert.subject,
                "severity": alert.severity.value, "value": alert.value,
                "threshold": alert.threshold, "message": alert.message, "raised_at": moment,
            }
            for alert in _unique(found)
        ]
        if within is None:
            with self.engine.begin() as conn:
                conn.execute(delete(alerts).where(alerts.c.day == day, alerts.c.job == job))
                if rows:
                    conn.execute(insert(alerts), rows)
            return len(rows)
        with self.engine.begin() as conn:
            earlier = conn.execute(
                select(alerts.c.key, alerts.c.subject).where(
                    alerts.c.day == day, alerts.c.job == job
                )
            ).all()
            mine = [{"k": key, "s": subject} for key, subject in earlier if within(key, subject)]
            if mine:
                conn.execute(
                    delete(alerts).where(
                        alerts.c.day == day, alerts.c.job == job,
                        alerts.c.key == bindparam("k"), alerts.c.subject == bindparam("s"),
                    ),
                    mine,
                )
            return upsert(conn, alerts, rows)

    def of_day(self, day: date, job: str | None = None) -> list[Alert]:
        query = select(alerts).where(alerts.c.day == day)
        if job is not None:
            query = query.where(alerts.c.job == job)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(alerts.c.job, alerts.c.key, alerts.c.subject)).all()
        return [
            Alert(row.key, Severity(row.severity), row.subject, row.message, row.value,
                  row.threshold)
            for row in rows
        ]
