"""The run ledger knows who holds a claim and what the call found before it was sent.

A claim left `started` by a run that died is resolved by the next run from the remote state,
the same way as a lost answer: that needs the counters read before the call (`evidence`), the
moment the call was about to be sent (`called_at`: none means it never was), and who held the
claim (host, process id and its start marker, and a lease the holder renews), so a live holder
is never raced and a dead one is known as dead.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("holder_host", sa.String(255)),
    ("holder_pid", sa.Integer()),
    ("holder_token", sa.String(64)),
    ("lease_until", sa.DateTime(timezone=True)),
    ("called_at", sa.DateTime(timezone=True)),
    ("evidence", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("run_ledger") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_ledger") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
