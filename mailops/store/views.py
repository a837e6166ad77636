"""Read-only views for the dashboard: trend rows over a range, the audit and ledger tails,
and the guard's recent plans per mailbox. Nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select

from mailops.store.schema import (
    domain_daily,
    team_daily,
)

TREND_TABLES = {"team": (team_daily, "team"), "domain": (domain_daily, "domain")}


def trend_span(engine: Engine) -> tuple[date | None, date | None]:
    """The first and last day either trend table holds (None when both are empty)."""
    with engine.connect() as conn:
        spans = [
            conn.execute(select(func.min(table.c.day), func.max(table.c.day))).one()
            for table, _ in TREND_TABLES.values()
        ]
    firsts = [first for first, _ in spans if first is not None]
    lasts = [last for _, last in spans if last is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def trend_rows(
    engine: Engine, scope: str, metrics: Sequence[str], start: date, end: date
) -> list[dict[str, Any]]:
    """Each day's `metrics` of every team (or domain) from `start` to `end`, both included."""
    table, subject = TREND_TABLES[scope]
    columns = [table.c.day, table.c[subject].label("subject")] + [table.c[m] for m in metrics]
    query = (
        select(*columns)
        .where(table.c.day >= start, table.c.day <= end)
        .order_by(table.c[subject], table.c.day)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
