"""Billing: the counters snapshot taken before each monthly freeze, and the billed rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _counters() -> list[sa.Column]:
    return [
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("partner_ref", sa.String(255), nullable=True),
        sa.Column("outbound_sent_month", sa.Integer(), nullable=False),
        sa.Column("outbound_monthly_limit", sa.Integer(), nullable=False),
    ]


def _quality() -> list[sa.Column]:
    return [
        sa.Column("bounce_count", sa.Integer(), nullable=False),
        sa.Column("complaint_count", sa.Integer(), nullable=False),
        sa.Column("bounce_rate", sa.Float(), nullable=False),
        sa.Column("complaint_rate", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "billing_snapshot",
        *_counters(),
        sa.Column("outbound_enforcement", sa.String(16), nullable=True),
        *_quality(),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period", "domain", name="pk_billing_snapshot"),
    )
    op.create_table(
        "billing_rows",
        *_counters(),
        sa.Column("outbound_enforcement", sa.String(16), nullable=True),
        *_quality(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period", "domain", name="pk_billing_rows"),
    )


def downgrade() -> None:
    op.drop_table("billing_rows")
    op.drop_table("billing_snapshot")
