"""A stranger's NUL, lone surrogate or bidi control, through the jobs into PostgreSQL.

Issue 18 saw one NUL in a contact's email or a domain's `partner_ref` fail the whole day's
write on PostgreSQL (0 team and 0 domain rows), and a NUL in a frozen row of the monthly answer
leave the month with no billing rows. Here the sandbox answers exactly that (a `rewrite` fault,
whose JSON carries `\\u0000` and `\\ud800` escapes as any server's could) and everything is
stored, the bad characters made visible as U+FFFD.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from flows.run import run_flow
from mailops.store import Store, domain_daily, team_daily, team_top_senders
from mailops.text import storable

pytestmark = pytest.mark.usefixtures("prefect_harness")

STRANGER = "nul\x00sur\ud800rtl\u202e@evil.example"
PARTNER = "p-\x00acme\ud800\u202e"


@pytest.fixture
def postgres_env(clean_sandbox, tmp_path: Path, monkeypatch, request):
    """Every sandbox team, the store in a PostgreSQL database of the test's own."""
    from fixtures_sandbox import SandboxEnv, point_at_sandbox
    from fixtures_store import new_database

    url = new_database(request, "postgresql", tmp_path, migrated=True)
    point_at_sandbox(monkeypatch, clean_sandbox, tmp_path,
                     teams=len(clean_sandbox.team_keys), database_url=url)
    return SandboxEnv(clean_sandbox, url, tmp_path / "mailops.toml", tmp_path / "data")


def test_a_nul_in_an_email_and_a_partner_ref_loses_nothing_on_postgresql(postgres_env):
    # Given the first team's top contact and the first domain's partner carry a NUL, a lone
    # surrogate and a right-to-left override
    from flows.daily_health import daily_health

    sandbox = postgres_env.sandbox
    first_team_key = next(iter(sandbox.team_keys.values()))
    sandbox.inject_fault("GET /cleanbox/v1/contacts", "rewrite", bearer=first_team_key,
                         set={"data.0.email": STRANGER})
    sandbox.inject_fault("GET /emboux/domains", "rewrite", set={"0.partner_ref": PARTNER})
    first_domain = sandbox.world.emboux.domain_names()[0]
    # When daily-health runs
    outcome = run_flow(daily_health, as_of=sandbox.now())
    # Then every team and every domain is stored, the stranger's text made storable
    assert outcome.ok, outcome.message
    with Store(postgres_env.database_url) as store, store.engine.connect() as conn:
        teams = conn.execute(select(team_daily.c.team)).scalars().all()
        found = conn.execute(select(domain_daily.c.domain, domain_daily.c.partner_ref)).all()
        domains = {domain: partner for domain, partner in found}
        senders = conn.execute(select(team_top_senders.c.email)).scalars().all()
    assert sorted(teams) == sorted(sandbox.team_keys)
    assert len(domains) == len(sandbox.world.emboux.domain_names())
    assert domains[first_domain] == storable(PARTNER) == "p-\ufffdacme\ufffd\u202e"
    assert storable(STRANGER) in senders


def test_a_nul_in_a_frozen_row_still_bills_the_month_on_postgresql(postgres_resets_env):
    # Given reset-monthly answers a frozen row whose partner holds a NUL and a lone surrogate
    from datetime import UTC, datetime

    from flows.billing_freeze import billing_freeze
    from mailops.rules.resets import previous_period
    from mailops.store import LedgerStatus

    env = postgres_resets_env
    domains = len(env.counters())
    env.sandbox.inject_fault("POST /emboux/outbound/reset-monthly", "rewrite",
                             set={"frozen.0.partner_ref": PARTNER})
    # When the freeze runs
    outcome = run_flow(billing_freeze)
    # Then the month is done with every domain billed from the answer, once
    month = previous_period(datetime.now(UTC))
    assert outcome.ok, outcome.message
    rows = env.store.billing.rows(month)
    assert len(rows) == domains and {row.source for row in rows} == {"reset"}
    assert storable(PARTNER) in {row.partner_ref for row in rows}
    assert env.store.ledger.entry("billing-freeze", month).status is LedgerStatus.DONE
    assert env.reset_calls() == (0, 1)


def test_a_counter_beyond_an_integer_column_is_that_domains_error_on_postgresql(postgres_env):
    # Given one domain answers a month's sends that no INTEGER column holds
    from flows.daily_health import daily_health

    sandbox = postgres_env.sandbox
    first_domain = sandbox.world.emboux.domain_names()[0]
    sandbox.inject_fault(f"GET /emboux/domains/{first_domain}/outbound", "rewrite",
                         set={"outbound_sent_month": 2**40})
    # When daily-health runs
    outcome = run_flow(daily_health, as_of=sandbox.now())
    # Then that domain is a clear one-line error naming the field, every other one is stored
    assert not outcome.ok and "'outbound_sent_month'" in outcome.message
    assert first_domain in outcome.message and "\n" not in outcome.message
    with Store(postgres_env.database_url) as store, store.engine.connect() as conn:
        stored = set(conn.execute(select(domain_daily.c.domain)).scalars())
        teams = conn.execute(select(team_daily.c.team)).scalars().all()
    assert stored == set(sandbox.world.emboux.domain_names()) - {first_domain}
    assert sorted(teams) == sorted(sandbox.team_keys)
