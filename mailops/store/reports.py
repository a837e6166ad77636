"""Loading the weekly report's frames: one query per table for the weeks it needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine, Table, select

from mailops.store.schema import alerts, audit_log, domain_daily, team_daily


@dataclass(frozen=True)
class ReportFrames:
    """The rows a weekly report is computed from, as pandas DataFrames."""

    teams: pd.DataFrame  # team_daily, every column
    domains: pd.DataFrame  # domain_daily, every column
    alerts: pd.DataFrame  # alerts of the report's week
    audit: pd.DataFrame  # audit_log rows changed within the report's week


def _frame(engine: Engine, table: Table, query: object) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(query)  # type: ignore[call-overload]
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def load_frames(
    engine: Engine, first_day: date, week_start: date, last_day: date, since: datetime,
    until: datetime,
) -> ReportFrames:
    """Trend rows from `first_day` to `last_day` (both included), the alerts from
    `week_start` to `last_day`, and the audit rows with `since <= changed_at < until`."""
    teams = _frame(engine, team_daily, select(team_daily).where(
        team_daily.c.day >= first_day, team_daily.c.day <= last_day
    ).order_by(team_daily.c.day, team_daily.c.team))
    domains = _frame(engine, domain_daily, select(domain_daily).where(
        domain_daily.c.day >= first_day, domain_daily.c.day <= last_day
    ).order_by(domain_daily.c.day, domain_daily.c.domain))
    found = _frame(engine, alerts, select(alerts).where(
        alerts.c.day >= week_start, alerts.c.day <= last_day
    ).order_by(alerts.c.day, alerts.c.key))
    audit = _frame(engine, audit_log, select(audit_log).where(
        audit_log.c.changed_at >= since, audit_log.c.changed_at < until
    ).order_by(audit_log.c.changed_at, audit_log.c.id))
    return ReportFrames(teams, domains, found, audit)
