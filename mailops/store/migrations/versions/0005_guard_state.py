"""outbound-guard state: each mailbox's window, status and cooldown; each group's status.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = 255


def upgrade() -> None:
    op.create_table(
        "guard_mailboxes",
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("group_name", sa.String(NAME), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("group_paused", sa.Boolean(), nullable=False),
        sa.Column("window_sends", sa.Float(), nullable=False),
        sa.Column("window_bounces", sa.Float(), nullable=False),
        sa.Column("total_sends", sa.Integer(), nullable=False),
        sa.Column("total_bounces", sa.Integer(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probation_sends", sa.Float(), nullable=False),
        sa.Column("probation_bounces", sa.Float(), nullable=False),
        sa.Column("clean_sends", sa.Float(), nullable=False),
        sa.Column("last_sent_month", sa.Integer(), nullable=True),
        sa.Column("last_bounce_count", sa.Integer(), nullable=True),
        sa.Column("suspended_by_guard", sa.Boolean(), nullable=False),
        sa.Column("hands_off", sa.Boolean(), nullable=False),
        sa.Column("notified_status", sa.String(16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_guard_mailboxes"),
    )
    op.create_table(
        "guard_groups",
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("notified_status", sa.String(16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_guard_groups"),
    )


def downgrade() -> None:
    op.drop_table("guard_groups")
    op.drop_table("guard_mailboxes")
