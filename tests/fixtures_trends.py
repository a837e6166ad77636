"""Trend rows with every metric defaulted, and a store of five known weeks, for the weekly
report's tests in several areas (report/, store/, flows/, cli/)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailops.store import Store

TEAM_DEFAULTS: dict[str, Any] = {
    "weekly_used": 0, "weekly_limit": 1000, "usage_pct": 0.0, "aliases_used": 1,
    "aliases_limit": 10, "mailboxes_used": 1, "mailboxes_limit": 5, "quarantine_backlog": 0,
    "failed_24h": 0, "denied_24h": 0,
}


DOMAIN_DEFAULTS: dict[str, Any] = {
    "partner_ref": "p1", "outbound_tier": "standard", "outbound_status": "active",
    "outbound_daily_limit": 0, "outbound_monthly_limit": 0, "outbound_sent_today": 0,
    "outbound_sent_month": 0, "outbound_enforcement": "soft", "bounce_count": 0,
    "complaint_count": 0, "bounce_rate": 0.0, "complaint_rate": 0.0, "ses_verified": True,
    "warmup_profile": "none", "spike_max_multiplier": 4.0,
}


class TrendRows:
    """Daily trend rows for the weekly report: plain dicts (frames) or health objects (the
    store), every metric defaulted so a test names only what it checks."""

    def team(self, day: Any, team: str, **values: Any) -> dict[str, Any]:
        return {"day": day, "team": team, **TEAM_DEFAULTS, **values}

    def domain(self, day: Any, domain: str, **values: Any) -> dict[str, Any]:
        return {"day": day, "domain": domain, **DOMAIN_DEFAULTS, **values}

    def team_health(self, team: str, **values: Any) -> Any:
        from mailops.models.health import TeamHealth

        row = {**TEAM_DEFAULTS, **values}
        return TeamHealth(
            team=team, weekly_used=row["weekly_used"], weekly_limit=row["weekly_limit"],
            usage_pct=row["usage_pct"], aliases_used=row["aliases_used"],
            aliases_limit=row["aliases_limit"], mailboxes_used=row["mailboxes_used"],
            mailboxes_limit=row["mailboxes_limit"],
            quarantine_backlog=row["quarantine_backlog"], failed_count=row["failed_24h"],
            denied_count=row["denied_24h"],
        )

    def domain_health(self, domain: str, **values: Any) -> Any:
        from mailops.models.emboux import Outbound
        from mailops.models.health import DomainHealth

        row = {**DOMAIN_DEFAULTS, **values}
        partner = row.pop("partner_ref")
        return DomainHealth(Outbound(name=domain, **row), partner)


@pytest.fixture
def trend_rows() -> TrendRows:
    return TrendRows()


@dataclass
class WeeklyEnv:
    """mailops pointed at a store holding five weeks (2026-W43 to W47) of known rows."""

    database_url: str
    data_dir: Path

    def store(self) -> Store:
        return Store(self.database_url)


def fill_weekly_store(store: Store, trend_rows: TrendRows) -> None:
    """35 days (2026-10-19 to 2026-11-22) saved by `Store.save_health_day`: team "acme"
    whose backlog rises 2 a week (10 to 18) and whose weekly usage peaks rise 100 a week to
    700 of 1000; team "newco" only in the last week; domain "mail.example" sending 10 more a
    day towards its daily limit of 300."""
    from datetime import UTC, date, datetime, timedelta

    first = date(2026, 10, 19)
    for offset in range(35):
        day = first + timedelta(days=offset)
        week = offset // 7
        teams = [trend_rows.team_health(
            "acme", quarantine_backlog=10 + 2 * week, weekly_used=300 + 100 * week,
            failed_24h=2 + week,
        )]
        if week == 4:
            teams.append(trend_rows.team_health("newco", weekly_used=5))
        sends = 100 + 10 * (offset - 21) if offset >= 21 else 50
        domains = [trend_rows.domain_health(
            "mail.example", outbound_sent_today=sends, outbound_daily_limit=300,
        )]
        collected = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        store.trends.save_day(day, collected, teams, domains)


@pytest.fixture
def weekly_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trend_rows: TrendRows
) -> Iterator[WeeklyEnv]:
    """A fresh SQLite store holding `fill_weekly_store`'s five weeks; mailops points at it."""
    database_url = f"sqlite:///{tmp_path / 'mailops.db'}"
    monkeypatch.setenv("MAILOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAILOPS_DATA_DIR", str(tmp_path / "data"))
    with Store(database_url) as store:
        store.upgrade()
        fill_weekly_store(store, trend_rows)
    yield WeeklyEnv(database_url, tmp_path / "data")
