"""The first schema: trend tables per team and per domain, the run ledger, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team", sa.String(255), nullable=False),
        sa.Column("weekly_used", sa.Integer(), nullable=False),
        sa.Column("weekly_limit", sa.Integer(), nullable=False),
        sa.Column("usage_pct", sa.Float(), nullable=False),
        sa.Column("aliases_used", sa.Integer(), nullable=False),
        sa.Column("aliases_limit", sa.Integer(), nullable=False),
        sa.Column("mailboxes_used", sa.Integer(), nullable=False),
        sa.Column("mailboxes_limit", sa.Integer(), nullable=False),
        sa.Column("quarantine_backlog", sa.Integer(), nullable=False),
        sa.Column("failed_24h", sa.Integer(), nullable=False),
        sa.Column("denied_24h", sa.Integer(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "team", name="pk_team_daily"),
    )
    op.create_table(
        "domain_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("partner_ref", sa.String(255), nullable=True),
        sa.Column("outbound_tier", sa.String(32), nullable=False),
        sa.Column("outbound_status", sa.String(32), nullable=False),
        sa.Column("outbound_daily_limit", sa.Integer(), nullable=False),
        sa.Column("outbound_monthly_limit", sa.Integer(), nullable=False),
        sa.Column("outbound_sent_today", sa.Integer(), nullable=False),
        sa.Column("outbound_sent_month", sa.Integer(), nullable=False),
        sa.Column("outbound_enforcement", sa.String(16), nullable=False),
        sa.Column("bounce_count", sa.Integer(), nullable=False),
        sa.Column("complaint_count", sa.Integer(), nullable=False),
        sa.Column("bounce_rate", sa.Float(), nullable=False),
        sa.Column("complaint_rate", sa.Float(), nullable=False),
        sa.Column("ses_verified", sa.Boolean(), nullable=False),
        sa.Column("warmup_profile", sa.String(32), nullable=False),
        sa.Column("spike_max_multiplier", sa.Float(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "domain", name="pk_domain_daily"),
    )
    op.create_table(
        "run_ledger",
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job", "key", name="pk_run_ledger"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_run_id", "audit_log", ["run_id"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_run_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("run_ledger")
    op.drop_table("domain_daily")
    op.drop_table("team_daily")
