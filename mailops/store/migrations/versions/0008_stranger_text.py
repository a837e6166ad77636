"""Text a stranger writes (a quarantined message's sender, a contact's address, a category's
name) has no length limit: PostgreSQL refused a label over 512 characters that SQLite kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (("audit_log", "label", True, 512), ("planned_changes", "label", False, 512),
           ("team_top_senders", "email", False, 512), ("team_top_senders", "category", True, 255))


def upgrade() -> None:
    for table, column, nullable, length in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(length),
                               existing_nullable=nullable)


def downgrade() -> None:
    for table, column, nullable, length in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text(),
                               existing_nullable=nullable)
