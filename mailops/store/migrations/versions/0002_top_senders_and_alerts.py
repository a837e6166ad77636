"""Top senders per team and day, and alerts as data per day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_top_senders",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team", sa.String(255), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(512), nullable=False),
        sa.Column("email_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("category", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("day", "team", "rank", name="pk_team_top_senders"),
    )
    op.create_table(
        "alerts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "job", "key", "subject", name="pk_alerts"),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("team_top_senders")
