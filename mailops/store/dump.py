"""Every row of every table the database holds, for audits that must miss nothing (the chaos
run's secrets scan and reconciliation). Read only; tables are found by reflection, so a
table added by a later migration is included without a change here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, select


def every_row(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Table name: its rows as dicts (values as the driver returns them)."""
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.connect() as conn:
        return {
            name: [dict(row) for row in conn.execute(select(table)).mappings()]
            for name, table in sorted(reflected.tables.items())
        }
