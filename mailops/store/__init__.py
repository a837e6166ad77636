"""The trend store: schema, migrations, upserts, the run ledger and the audit log.

`Store` is the one way in: flows, the CLI and reports open it by URL and use its methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, bindparam, delete, insert, select
from sqlalchemy.exc import NoSuchModuleError

if TYPE_CHECKING:
    from mailops.store.reports import ReportFrames

from mailops.errors import StoreError
from mailops.models.health import DomainHealth, TeamHealth
from mailops.rules.alerts import Alert, Severity
from mailops.rules.daily_health import WeekOverWeek
from mailops.store import domains as domains_store
from mailops.store import dump, migrate, trends, views
from mailops.store.audit import AuditLog, AuditRecord, Change
from mailops.store.billing import Billing, BillingRow
from mailops.store.domains import DomainRecord
from mailops.store.engine import create_store_engine, safe_url
from mailops.store.guard import GuardMemory, GuardRecord
from mailops.store.ledger import Claim, Holder, Ledger, LedgerEntry, LedgerStatus
from mailops.store.plans import ChangeStatus, Outcome, PlannedChange, Plans, StoredChange
from mailops.store.schema import (
    alerts,
    audit_log,
    domain_daily,
    metadata,
    planned_changes,
    run_ledger,
    team_daily,
    team_top_senders,
)
from mailops.store.upsert import upsert

__all__ = [
    "AuditLog",
    "AuditRecord",
    "Billing",
    "BillingRow",
    "Change",
    "ChangeStatus",
    "Claim",
    "DomainRecord",
    "GuardMemory",
    "GuardRecord",
    "Holder",
    "Ledger",
    "LedgerEntry",
    "LedgerStatus",
    "Outcome",
    "PlannedChange",
    "Plans",
    "ReportFrames",
    "Store",
    "StoredChange",
    "alerts",
    "audit_log",
    "domain_daily",
    "metadata",
    "planned_changes",
    "run_ledger",
    "team_daily",
    "team_top_senders",
]


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


class Store:
    """The database behind mailops, opened by SQLAlchemy URL (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_store_engine(url)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise StoreError(f"no database driver for {safe_url(url)}: {exc}") from None
        except OSError as exc:
            raise StoreError(
                f"cannot create the database {safe_url(url)}: {exc.strerror} ({exc.filename})"
            ) from None
        self.ledger = Ledger(self.engine)
        self.audit = AuditLog(self.engine)
        self.plans = Plans(self.engine)
        self.guard = GuardMemory(self.engine)
        self.billing = Billing(self.engine)

    def __repr__(self) -> str:
        return f"<Store {safe_url(self.url)}>"

    @property
    def display_url(self) -> str:
        """The URL with any password masked."""
        return safe_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------

    def upgrade(self) -> str:
        """Create or migrate the schema to the newest revision; returns it."""
        return migrate.upgrade(self.engine)

    def revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    def every_row(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table, by table name (read only)."""
        return dump.every_row(self.engine)

    # --- trend rows --------------------------------------------------------------------

    def upsert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write rows by natural key: a re-run of the same day replaces, never duplicates."""
        with self.engine.begin() as conn:
            return upsert(conn, table, rows)

    def replace(
        self, table: Table, match: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
    ) -> int:
        """Replace every row matching `match` (e.g. one day and team) with `rows`, atomically.

        For sets whose members can disappear between runs (alerts, top senders), where an
        upsert would leave yesterday's extra rows behind.
        """
        condition = [table.c[name] == value for name, value in match.items()]
        if not condition:
            raise ValueError("replace needs at least one column to match")
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(*condition))
            if rows:
                conn.execute(insert(table), list(rows))
        return len(rows)

    def save_alerts(
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
            return self.replace(alerts, {"day": day, "job": job}, rows)
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

    def alerts_of_day(self, day: date, job: str | None = None) -> list[Alert]:
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

    def save_health_day(
        self,
        day: date,
        collected_at: datetime,
        teams: Sequence[TeamHealth],
        domains: Sequence[DomainHealth],
    ) -> None:
        """Store a day's team and domain rows (and top senders); a re-run replaces them."""
        trends.save_day(self.engine, day, collected_at, teams, domains)

    def health_of_day(self, day: date) -> tuple[list[TeamHealth], list[DomainHealth]]:
        """The teams and domains stored for `day`, as collected (a merged shards' report)."""
        return trends.health_of_day(self.engine, day)

    def send_averages(self, before: date, days: int) -> dict[str, float]:
        """Each domain's mean daily sends over the `days` days before `before`."""
        return trends.send_averages(self.engine, before, days)

    def week_over_week(
        self, day: date, team_metrics: Sequence[str], domain_metrics: Sequence[str]
    ) -> list[WeekOverWeek]:
        """Daily means of each metric this week (ending `day`) and the week before."""
        return trends.week_over_week(self.engine, day, team_metrics, domain_metrics)

    def report_frames(
        self, first_day: date, week_start: date, last_day: date, since: datetime,
        until: datetime,
    ) -> ReportFrames:
        """The weekly report's frames: trend rows of the weeks it needs, the week's alerts and
        audited changes (one query per table)."""
        from mailops.store import reports  # pandas loads only for the report, not every job

        return reports.load_frames(self.engine, first_day, week_start, last_day, since, until)

    # --- dashboard (read only) -----------------------------------------------------------

    def trend_span(self) -> tuple[date | None, date | None]:
        """The first and last day the trend tables hold."""
        return views.trend_span(self.engine)

    def trend_rows(
        self, scope: str, metrics: Sequence[str], start: date, end: date
    ) -> list[dict[str, Any]]:
        """Daily `metrics` of every team or domain (`scope`) from `start` to `end`."""
        return views.trend_rows(self.engine, scope, metrics, start, end)

    # --- domains -----------------------------------------------------------------------

    def save_onboarded_domain(self, record: DomainRecord) -> None:
        """Store a domain's onboarding (records, first status); a re-onboarding replaces it."""
        domains_store.save_onboarded(self.engine, record)

    def onboarded_domains(self, name: str | None = None) -> list[DomainRecord]:
        return domains_store.load(self.engine, name)

    def record_domain_status(
        self, name: str, status: str, verified: bool, observed_at: datetime
    ) -> bool:
        """Store a polled verification status; True (and one history row) when it changed."""
        return domains_store.record_status(self.engine, name, status, verified, observed_at)

    def domain_status_history(self, name: str) -> list[tuple[str, datetime]]:
        return domains_store.history(self.engine, name)

    def record_domain_credential(self, name: str, location: str, rotated_at: datetime) -> None:
        """Remember where a domain's credential is kept (never its value)."""
        domains_store.record_credential(self.engine, name, location, rotated_at)
