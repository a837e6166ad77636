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
    Column("team", String(NAME), primary_key=True),
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
    Column("domain", String(NAME), primary_key=True),
    Column("partner_ref", String(NAME)),
    Column("outbound_tier", String(32), nullable=False),
    Column("outbound_status", String(32), nullable=False),
    Column("outbound_daily_limit", Integer, nullable=False),
    Column("outbound_monthly_limit", Integer, nullable=False),
    Column("outbound_sent_today", Integer, nullable=False),
    Column("outbound_sent_month", Integer, nullable=False),
    Column("outbound_enforcement", String(16), nullable=False),
    Column("bounce_count", Integer, nullable=False),
    Column("complaint_count", Integer, nullable=False),
    Column("bounce_rate", Float, nullable=False),
    Column("complaint_rate", Float, nullable=False),
    Column("ses_verified", Boolean, nullable=False),
    Column("warmup_profile", String(32), nullable=False),
    Column("spike_max_multiplier", Float, nullable=False),
    Column("collected_at", UtcDateTime(), nullable=False),
)

run_ledger = Table(
    "run_ledger",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("run_id", String(64)),
    Column("attempts", Integer, nullable=False, default=1),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("detail", Text),
    Column("holder_host", String(255)),
    Column("holder_pid", Integer),
    Column("holder_token", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("called_at", UtcDateTime()),
    Column("evidence", Text),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("job", String(64), nullable=False),
    Column("target", String(512), nullable=False),
    Column("field", String(64), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("reason", Text, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("label", Text),  # what a person recognises: an address, a sender (a stranger's text)
    Index("ix_audit_log_run_id", "run_id"),
    Index("ix_audit_log_target", "target"),
)

team_top_senders = Table(
    "team_top_senders",
    metadata,
    Column("day", Date, primary_key=True),
    Column("team", String(NAME), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("email", Text, nullable=False),
    Column("email_count", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("category", Text),  # the API's name for it
)

alerts = Table(
    "alerts",
    metadata,
    Column("day", Date, primary_key=True),
    Column("job", String(64), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("subject", String(512), primary_key=True),
    Column("severity", String(16), nullable=False),
    Column("value", Float),
    Column("threshold", Float),
    Column("message", Text, nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
)

# --- billing (billing-freeze) -------------------------------------------------------------
# The counters of every domain read just before `reset-monthly`, kept per billed month: the
# fallback billing data when the call's answer is lost.
billing_snapshot = Table(
    "billing_snapshot",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("domain", String(NAME), primary_key=True),
    Column("partner_ref", String(NAME)),
    Column("outbound_sent_month", Integer, nullable=False),
    Column("outbound_monthly_limit", Integer, nullable=False),
    Column("outbound_enforcement", String(16)),
    Column("bounce_count", Integer, nullable=False),
    Column("complaint_count", Integer, nullable=False),
    Column("bounce_rate", Float, nullable=False),
    Column("complaint_rate", Float, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("taken_at", UtcDateTime(), nullable=False),
)

# One row per domain and billed month: what `reset-monthly` froze (source "reset"), or the
# snapshot when its answer was lost but the reset was applied (source "snapshot").
billing_rows = Table(
    "billing_rows",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("domain", String(NAME), primary_key=True),
    Column("partner_ref", String(NAME)),
    Column("outbound_sent_month", Integer, nullable=False),
    Column("outbound_monthly_limit", Integer, nullable=False),
    Column("outbound_enforcement", String(16)),
    Column("bounce_count", Integer, nullable=False),
    Column("complaint_count", Integer, nullable=False),
    Column("bounce_rate", Float, nullable=False),
    Column("complaint_rate", Float, nullable=False),
    Column("source", String(16), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("frozen_at", UtcDateTime(), nullable=False),
)

planned_changes = Table(
    "planned_changes",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("job", String(64), nullable=False),
    Column("target", String(512), nullable=False),
    Column("label", Text, nullable=False),
    Column("field", String(64), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text),
    Column("planned_at", UtcDateTime(), nullable=False),
    Column("applied_at", UtcDateTime()),
    Index("ix_planned_changes_run_id_status", "run_id", "status"),
)

# --- outbound-guard -------------------------------------------------------------------------
# One row per mailbox (EmBoux sending domain): seed 003's window, totals, status and cooldown,
# the counters of the last poll (to feed the engine the change since), whether the guard
# itself suspended the domain, and the last status posted to Slack (transitions only).
guard_mailboxes = Table(
    "guard_mailboxes",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("group_name", String(NAME), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
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
    Column("notified_status", String(16)),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per group (a partner, or a parent domain): the last status posted to Slack.
guard_groups = Table(
    "guard_groups",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("notified_status", String(16)),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# --- domains: onboarding, verification watch, credential rotation ----------------------------
# One row per onboarded domain or subdomain: the DNS records it must publish (JSON), its last
# verification status, and where its provider credential is kept (never the password).
onboarded_domains = Table(
    "onboarded_domains",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("parent", String(NAME)),
    Column("provider", String(32), nullable=False),
    Column("dns_records", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("onboarded_at", UtcDateTime(), nullable=False),
    Column("verified_at", UtcDateTime()),
    Column("checked_at", UtcDateTime()),
    Column("credential_location", String(512)),
    Column("credential_rotated_at", UtcDateTime()),
)

# Every verification status change of an onboarded domain, with when it was seen.
domain_status_history = Table(
    "domain_status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False),
    Column("status", String(32), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("observed_at", UtcDateTime(), nullable=False),
    Index("ix_domain_status_history_name", "name"),
)
