"""Insert-or-replace (and insert-if-absent) by a table's natural key, in SQL both SQLite and
PostgreSQL speak."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _dialect_insert(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise ValueError(f"upsert does not support the {dialect!r} dialect")


def insert_if_absent(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """Insert one row unless its primary key is taken; True when it was inserted.

    A conflict is an answer, not an error: the store turns every driver error into a
    `StoreError`, so a taken key is never told by catching IntegrityError."""
    keys = list(table.primary_key.columns)
    statement = (_dialect_insert(conn, table).values(**values)
                 .on_conflict_do_nothing(index_elements=keys).returning(*keys))
    # RETURNING, not rowcount: psycopg reports no rowcount for an INSERT through SQLAlchemy
    return conn.execute(statement).first() is not None


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Write `rows`, replacing any row with the same primary key; returns the row count."""
    if not rows:
        return 0
    statement = _dialect_insert(conn, table)
    keys = [column.name for column in table.primary_key.columns]
    replace = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in keys
    }
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=replace), list(rows))
    return len(rows)
