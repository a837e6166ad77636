"""The trend store's tables, in SQLAlchemy Core: portable across SQLite and PostgreSQL.

Trend tables hold one row per day and team, per day and domain (natural keys, so a re-run
replaces); the run ledger makes non-idempotent remote calls happen once; the audit log
keeps every remote change with its previous value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from mailops.text import storable


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive moment is taken to be UTC already."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored as UTC and read back aware, in UTC, on every database.

    SQLite would store 02:30+02:00 as 02:30 (dropping the offset without converting) and hand
    back naive values; PostgreSQL converts and hands back aware ones. This does both the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

class StoredText(TypeDecorator[str]):
    """Unbounded text (TEXT) as every database can store it: `mailops.text.storable` at bind
    time, so one stranger's NUL or lone surrogate never fails a write (PostgreSQL refuses the
    first, every driver the second), on SQLite as on PostgreSQL. The clients' models apply
    the same rule; this is the store's own backstop for text that came any other way."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, str):
            return value
        return storable(value, getattr(self.impl, "length", None))


class StoredString(StoredText):
    """Bounded text (VARCHAR(n)): `storable`, and a longer value cut to n with an ellipsis
    (PostgreSQL refuses it; SQLite would keep it whole, so both now store the same)."""

    impl = String
    cache_ok = True


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NAME = 255  # longest domain name, and room for team names

team_daily = Table(
    "team_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("team", StoredString(NAME), primary_key=True),
    Column("weekly_used", Integer, nullable=False),
    Column("weekly_limit", Integer, nullable=False),
    Column("usage_pct", Float, nullable=False),
    Column("aliases_used", Integer, nullable=False),
    Column("aliases_limit", Integer, nullable=False),
    Column("mailboxes_used", Integer, nullable=False),
    Column("mailboxes_limit", Integer, nullable=False),
    Column("quarantine_backlog", Integer, nullable=False),
    Column("failed_24h", Integer, nullable=False),
    Column("denied_24h", Integer, nullable=False),
    Column("collected_at", UtcDateTime(), nullable=False),
)

domain_daily = Table(
    "domain_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("domain", StoredString(NAME), primary_key=True),
    Column("partner_ref", StoredString(NAME)),
    Column("outbound_tier", StoredString(32), nullable=False),
    Column("outbound_status", StoredString(32), nullable=False),
    Column("outbound_daily_limit", Integer, nullable=False),
    Column("outbound_monthly_limit", Integer, nullable=False),
    Column("outbound_sent_today", Integer, nullable=False),
    Column("outbound_sent_month", Integer, nullable=False),
    Column("outbound_enforcement", StoredString(16), nullable=False),
    Column("bounce_count", Integer, nullable=False),
    Column("complaint_count", Integer, nullable=False),
    Column("bounce_rate", Float, nullable=False),
    Column("complaint_rate", Float, nullable=False),
    Column("ses_verified", Boolean, nullable=False),
    Column("warmup_profile", StoredString(32), nullable=False),
    Column("spike_max_multiplier", Float, nullable=False),
    Column("collected_at", UtcDateTime(), nullable=False),
)

run_ledger = Table(
    "run_ledger",
    metadata,
    Column("job", StoredString(64), primary_key=True),
    Column("key", StoredString(64), primary_key=True),
    Column("status", StoredString(16), nullable=False),
    Column("run_id", StoredString(64)),
    Column("attempts", Integer, nullable=False, default=1),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("detail", StoredText()),
    Column("holder_host", StoredString(255)),
    Column("holder_pid", Integer),
    Column("holder_token", StoredString(64)),
    Column("lease_until", UtcDateTime()),
    Column("called_at", UtcDateTime()),
    Column("evidence", StoredText()),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", StoredString(64), nullable=False),
    Column("job", StoredString(64), nullable=False),
    Column("target", StoredString(512), nullable=False),
    Column("field", StoredString(64), nullable=False),
    Column("old_value", StoredText()),
    Column("new_value", StoredText()),
    Column("reason", StoredText(), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("label", StoredText()),  # what a person recognises: an address, a sender
    Index("ix_audit_log_run_id", "run_id"),
    Index("ix_audit_log_target", "target"),
)

team_top_senders = Table(
    "team_top_senders",
    metadata,
    Column("day", Date, primary_key=True),
    Column("team", StoredString(NAME), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("email", StoredText(), nullable=False),
    Column("email_count", Integer, nullable=False),
    Column("state", StoredString(16), nullable=False),
    Column("category", StoredText()),  # the API's name for it
)

alerts = Table(
    "alerts",
    metadata,
    Column("day", Date, primary_key=True),
    Column("job", StoredString(64), primary_key=True),
    Column("key", StoredString(64), primary_key=True),
    Column("subject", StoredString(512), primary_key=True),
    Column("severity", StoredString(16), nullable=False),
    Column("value", Float),
    Column("threshold", Float),
    Column("message", StoredText(), nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
)

# --- billing (billing-freeze) -------------------------------------------------------------


def _month_counters() -> list[Column[Any]]:
    """A domain's month as `reset-monthly` freezes it, keyed by period and domain: the columns
    the snapshot and the billed rows share (new Column objects for each table)."""
    return [
        Column("period", StoredString(7), primary_key=True),
        Column("domain", StoredString(NAME), primary_key=True),
        Column("partner_ref", StoredString(NAME)),
        Column("outbound_sent_month", Integer, nullable=False),
        Column("outbound_monthly_limit", Integer, nullable=False),
        Column("outbound_enforcement", StoredString(16)),
        Column("bounce_count", Integer, nullable=False),
        Column("complaint_count", Integer, nullable=False),
        Column("bounce_rate", Float, nullable=False),
        Column("complaint_rate", Float, nullable=False),
    ]


# The counters of every domain read just before `reset-monthly`, kept per billed month: the
# fallback billing data when the call's answer is lost.
billing_snapshot = Table(
    "billing_snapshot",
    metadata,
    *_month_counters(),
    Column("run_id", StoredString(64), nullable=False),
    Column("taken_at", UtcDateTime(), nullable=False),
)

# One row per domain and billed month: what `reset-monthly` froze (source "reset"), or the
# snapshot when its answer was lost but the reset was applied (source "snapshot").
billing_rows = Table(
    "billing_rows",
    metadata,
    *_month_counters(),
    Column("source", StoredString(16), nullable=False),
    Column("run_id", StoredString(64), nullable=False),
    Column("frozen_at", UtcDateTime(), nullable=False),
)

planned_changes = Table(
    "planned_changes",
    metadata,
    Column("run_id", StoredString(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("job", StoredString(64), nullable=False),
    Column("target", StoredString(512), nullable=False),
    Column("label", StoredText(), nullable=False),
    Column("field", StoredString(64), nullable=False),
    Column("old_value", StoredText()),
    Column("new_value", StoredText()),
    Column("action", StoredString(32), nullable=False),
    Column("reason", StoredText(), nullable=False),
    Column("status", StoredString(16), nullable=False),
    Column("detail", StoredText()),
    Column("planned_at", UtcDateTime(), nullable=False),
    Column("applied_at", UtcDateTime()),
    Index("ix_planned_changes_run_id_status", "run_id", "status"),
)

# --- outbound-guard -------------------------------------------------------------------------
# One row per mailbox (EmBoux sending domain): the guard's window, totals, status and cooldown
# (docs/outbound-guard.md), the counters of the last poll (to feed the engine the change
# since), whether the guard itself suspended the domain, and the last status posted to Slack
# (transitions only).
guard_mailboxes = Table(
    "guard_mailboxes",
    metadata,
    Column("name", StoredString(NAME), primary_key=True),
    Column("group_name", StoredString(NAME), nullable=False),
    Column("status", StoredString(16), nullable=False),
    Column("reason", StoredText(), nullable=False),
    Column("group_paused", Boolean, nullable=False),
    Column("window_sends", Float, nullable=False),
    Column("window_bounces", Float, nullable=False),
    Column("total_sends", Integer, nullable=False),
    Column("total_bounces", Integer, nullable=False),
    Column("paused_at", UtcDateTime()),
    Column("cooldown_until", UtcDateTime()),
    Column("probation_sends", Float, nullable=False),
    Column("probation_bounces", Float, nullable=False),
    Column("clean_sends", Float, nullable=False),
    Column("last_sent_month", Integer),
    Column("last_bounce_count", Integer),
    Column("suspended_by_guard", Boolean, nullable=False),
    Column("hands_off", Boolean, nullable=False),
    Column("notified_status", StoredString(16)),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per group (a partner, or a parent domain): the last status posted to Slack.
guard_groups = Table(
    "guard_groups",
    metadata,
    Column("name", StoredString(NAME), primary_key=True),
    Column("status", StoredString(16), nullable=False),
    Column("notified_status", StoredString(16)),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# --- domains: onboarding, verification watch, credential rotation ----------------------------
# One row per onboarded domain or subdomain: the DNS records it must publish (JSON), its last
# verification status, and where its provider credential is kept (never the password).
onboarded_domains = Table(
    "onboarded_domains",
    metadata,
    Column("name", StoredString(NAME), primary_key=True),
    Column("parent", StoredString(NAME)),
    Column("provider", StoredString(32), nullable=False),
    Column("dns_records", StoredText(), nullable=False),
    Column("status", StoredString(32), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("onboarded_at", UtcDateTime(), nullable=False),
    Column("verified_at", UtcDateTime()),
    Column("checked_at", UtcDateTime()),
    Column("credential_location", StoredString(512)),
    Column("credential_rotated_at", UtcDateTime()),
)

# Every verification status change of an onboarded domain, with when it was seen.
domain_status_history = Table(
    "domain_status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", StoredString(NAME), nullable=False),
    Column("status", StoredString(32), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("observed_at", UtcDateTime(), nullable=False),
    Index("ix_domain_status_history_name", "name"),
)
