"""Trend rows are upserted by natural key: a re-run of a day replaces, never duplicates."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from mailops.store import domain_daily, team_daily


def team_row(day: date, team: str, **changes):
    row = {
        "day": day, "team": team, "weekly_used": 100, "weekly_limit": 1000, "usage_pct": 10.0,
        "aliases_used": 1, "aliases_limit": 10, "mailboxes_used": 1, "mailboxes_limit": 5,
        "quarantine_backlog": 3, "failed_24h": 0, "denied_24h": 2,
        "collected_at": datetime(2026, 10, 1, 8, tzinfo=UTC),
    }
    return {**row, **changes}


def count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_rerunning_a_day_replaces_its_rows(any_store):
    # Given a day already collected
    day = date(2026, 10, 1)
    any_store.upsert(team_daily, [team_row(day, "acme"), team_row(day, "globex")])
    # When the same day is collected again with new figures
    any_store.upsert(team_daily, [team_row(day, "acme", quarantine_backlog=42)])
    # Then there is still one row per team, with the newest figures
    assert count(any_store, team_daily) == 2
    with any_store.engine.connect() as conn:
        backlog = conn.execute(
            select(team_daily.c.quarantine_backlog).where(team_daily.c.team == "acme")
        ).scalar_one()
    assert backlog == 42


def test_another_day_adds_rows(any_store):
    any_store.upsert(team_daily, [team_row(date(2026, 10, 1), "acme")])
    any_store.upsert(team_daily, [team_row(date(2026, 10, 2), "acme")])
    assert count(any_store, team_daily) == 2


def test_domain_rows_upsert_by_day_and_domain(any_store):
    row = {
        "day": date(2026, 10, 1), "domain": "example.com", "partner_ref": "p1",
        "outbound_tier": "shared", "outbound_status": "active", "outbound_daily_limit": 500,
        "outbound_monthly_limit": 10000, "outbound_sent_today": 10, "outbound_sent_month": 10,
        "outbound_enforcement": "hard", "bounce_count": 0, "complaint_count": 0,
        "bounce_rate": 0.0, "complaint_rate": 0.0, "ses_verified": True,
        "warmup_profile": "standard", "spike_max_multiplier": 5.0,
        "collected_at": datetime(2026, 10, 1, 8, tzinfo=UTC),
    }
    any_store.upsert(domain_daily, [row])
    any_store.upsert(domain_daily, [{**row, "outbound_sent_today": 99}])
    assert count(any_store, domain_daily) == 1


def test_upserting_nothing_writes_nothing(any_store):
    assert any_store.upsert(team_daily, []) == 0


def test_replace_drops_members_that_vanished_since_the_last_run(any_store):
    # Given yesterday's run stored three top senders for acme and one for globex
    from mailops.store import team_top_senders

    day = date(2026, 10, 1)

    def sender(team: str, rank: int) -> dict:
        return {"day": day, "team": team, "rank": rank, "email": f"s{rank}@x.example",
                "email_count": 100 - rank, "state": "unset", "category": None}

    any_store.upsert(team_top_senders, [sender("acme", r) for r in (1, 2, 3)])
    any_store.upsert(team_top_senders, [sender("globex", 1)])
    # When acme's day is replaced by two senders
    any_store.replace(team_top_senders, {"day": day, "team": "acme"},
                        [sender("acme", 1), sender("acme", 2)])
    # Then acme has two rows and globex kept its own
    assert count(any_store, team_top_senders) == 3
