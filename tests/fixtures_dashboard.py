"""A store of known content for the dashboard and dashboards over it (dashboard/, and the
browser test in browser/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fixtures_store import new_database

from mailops.dashboard.server import Dashboard
from mailops.rules.guard import MailboxState, Status, Window
from mailops.store import Change, GuardRecord, LedgerStatus, Store, domain_daily, team_daily
from mailops.store.plans import PlannedChange

# Markup, and a bidi control that makes the rest read as something else.
HOSTILE_DOMAIN = '<img src=x onerror="alert(1)">\u202e.evil.test'


HOSTILE_TEAM = "acme & co \u2067<script>alert('t')</script>"


HOSTILE_SENDER = "<b>spam</b>\u202e@junk.xyz"


DASHBOARD_NOW = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)


TREND_LAST_DAY = date(2026, 9, 30)


def _team_row(day: date, team: str, backlog: int) -> dict[str, Any]:
    return {
        "day": day, "team": team, "weekly_used": 400, "weekly_limit": 1000, "usage_pct": 40.0,
        "aliases_used": 3, "aliases_limit": 10, "mailboxes_used": 2, "mailboxes_limit": 5,
        "quarantine_backlog": backlog, "failed_24h": 1, "denied_24h": 0,
        "collected_at": DASHBOARD_NOW,
    }


def _domain_row(day: date, domain: str, sent: int) -> dict[str, Any]:
    return {
        "day": day, "domain": domain, "partner_ref": "acme", "outbound_tier": "standard",
        "outbound_status": "active", "outbound_daily_limit": 1000,
        "outbound_monthly_limit": 30000, "outbound_sent_today": sent,
        "outbound_sent_month": sent * 10, "outbound_enforcement": "soft", "bounce_count": 2,
        "complaint_count": 0, "bounce_rate": 0.2, "complaint_rate": 0.0, "ses_verified": True,
        "warmup_profile": "none", "spike_max_multiplier": 4.0, "collected_at": DASHBOARD_NOW,
    }


def fill_dashboard_store(store: Store) -> None:
    """Known content for the dashboard: two groups (one paused by its ratio, with a hostile
    mailbox name), 14 days of trends, audited changes of three jobs, a reset and a freeze."""
    cooldown = DASHBOARD_NOW + timedelta(hours=20)
    states = [
        MailboxState("a.acme.test", "acme", Status.HEALTHY, "below every trigger",
                     Window(60, 1), 500, 4),
        MailboxState("b.acme.test", "acme", Status.WARNING,
                     "3 bounces within the first 60 sends (early warning)", Window(40, 3), 40, 3),
        MailboxState(HOSTILE_DOMAIN, "acme", Status.PAUSED, "5 bounces in the window",
                     Window(80, 5), 900, 30, paused_at=DASHBOARD_NOW - timedelta(hours=4),
                     cooldown_until=cooldown),
        MailboxState("c.beta.test", "beta", Status.HEALTHY, "below every trigger",
                     Window(10, 0), 10, 0),
    ]
    store.guard.save_mailboxes([GuardRecord(state) for state in states], DASHBOARD_NOW)
    store.guard.save_groups({"acme": "paused", "beta": "healthy"}, DASHBOARD_NOW)
    store.plans.save("run-guard-1", "outbound-guard", [PlannedChange(
        f"domain:{HOSTILE_DOMAIN}", HOSTILE_DOMAIN, "outbound_status", "active", "suspended",
        "suspend", "paused by the guard: 5 bounces in the window")])
    team_rows, domain_rows = [], []
    for back in range(14):
        day = TREND_LAST_DAY - timedelta(days=back)
        this_week = back < 7
        team_rows += [_team_row(day, HOSTILE_TEAM, 15 if this_week else 10),
                      _team_row(day, "plain-team", 4)]
        domain_rows.append(_domain_row(day, "a.acme.test", 200 if this_week else 100))
    store.upsert(team_daily, team_rows)
    store.upsert(domain_daily, domain_rows)
    store.audit.record("run-cleanup-1", "contact-cleanup", [
        Change("contact:plain-team:u1", "state", "unset", "blocked", "junk TLD .xyz",
               label=HOSTILE_SENDER)], now=DASHBOARD_NOW - timedelta(days=2))
    store.audit.record("run-quarantine-1", "quarantine-accept", [
        Change("quarantine:plain-team:q1", "state", "quarantined", "accepted",
               "sender is a whitelisted contact", label="friend@example.com")],
        now=DASHBOARD_NOW - timedelta(days=1))
    store.audit.record("run-guard-2", "outbound-guard", [
        Change(f"domain:{HOSTILE_DOMAIN}", "outbound_status", "active", "suspended",
               "paused by the guard", label=HOSTILE_DOMAIN)], now=DASHBOARD_NOW)
    for job, key, run_id in (("outbound-reset-daily", "2026-09-30", "run-reset-1"),
                             ("billing-freeze", "2026-08", "run-freeze-1")):
        store.ledger.claim(job, key, run_id, now=DASHBOARD_NOW - timedelta(hours=12))
        store.ledger.finish(job, key, run_id, LedgerStatus.DONE, "done once",
                            now=DASHBOARD_NOW - timedelta(hours=12))


@pytest.fixture
def dashboard_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store filled with the dashboard's known content: SQLite, or each backend of a
    test parametrized with `pytest.mark.parametrize("dashboard_store", STORE_BACKENDS,
    indirect=True)`."""
    backend = getattr(request, "param", "sqlite")
    with Store(new_database(request, backend, tmp_path, migrated=True)) as store:
        fill_dashboard_store(store)
        yield store


@pytest.fixture
def run_dashboard(dashboard_store: Store) -> Iterator[Callable[..., Dashboard]]:
    """Start dashboards over `dashboard_store` in background threads (any free port)."""
    started: list[Dashboard] = []

    def start(**kwargs: Any) -> Dashboard:
        running = Dashboard.start(dashboard_store, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
