"""The trend store: schema, migrations, upserts, the run ledger and the audit log.

`Store` is the one way in: flows, the CLI and reports open it by URL and use its methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, delete, insert
from sqlalchemy.exc import NoSuchModuleError

if TYPE_CHECKING:
    from mailops.store.reports import ReportFrames

from mailops.errors import StoreError
from mailops.store import dump, migrate
from mailops.store.alert_log import AlertLog
from mailops.store.audit import AuditLog, AuditRecord, Change
from mailops.store.billing import Billing, BillingRow
from mailops.store.domains import DomainRecord, Domains
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
from mailops.store.trends import Trends
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
        self.trends = Trends(self.engine)
        self.alerts = AlertLog(self.engine)
        self.domains = Domains(self.engine)

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
