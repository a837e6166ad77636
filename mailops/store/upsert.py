"""Insert-or-replace by a table's natural key, in SQL both SQLite and PostgreSQL speak."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Write `rows`, replacing any row with the same primary key; returns the row count."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "sqlite":
        statement = sqlite.insert(table)
    elif dialect == "postgresql":
        statement = postgresql.insert(table)
    else:
        raise ValueError(f"upsert does not support the {dialect!r} dialect")
    keys = [column.name for column in table.primary_key.columns]
    replace = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in keys
    }
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=replace), list(rows))
    return len(rows)
