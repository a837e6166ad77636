"""Sharded runs end to end: n shards of a job do the work of one run, no overlap, no gap."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from flows.contact_cleanup import contact_cleanup
from flows.daily_health import daily_health
from flows.outbound_guard import outbound_guard
from flows.run import run_flow
from mailops.contacts import ContactCleanupResult
from mailops.rules.shard import Shard
from mailops.store import alerts, domain_daily, team_daily

pytestmark = pytest.mark.usefixtures("prefect_harness")


def stored(env, table, column: str) -> list[str]:
    with env.store() as store, store.engine.connect() as conn:
        return [getattr(row, column) for row in conn.execute(select(table))]


def stored_alerts(env) -> set[tuple[str, str, str]]:
    with env.store() as store, store.engine.connect() as conn:
        return {(r.key, r.subject, r.message) for r in conn.execute(select(alerts))}


def health(env, **params):
    outcome = run_flow(daily_health, as_of=env.sandbox.now(), notify=False, **params)
    assert outcome.ok, outcome.message
    return outcome.result


def test_two_shards_of_daily_health_store_every_team_and_domain_once(mailops_env):
    # Given the sandbox's teams and domains
    sandbox = mailops_env.sandbox
    domains = set(sandbox.world.emboux.domain_names())
    # When daily-health runs as shard 1/2 and shard 2/2
    first, second = health(mailops_env, shard="1/2"), health(mailops_env, shard="2/2")
    # Then the shards split the work with no overlap and no gap
    first_domains = {d.name for d in first.report.domains}
    second_domains = {d.name for d in second.report.domains}
    assert first_domains and second_domains and not first_domains & second_domains
    assert first_domains | second_domains == domains
    teams = Counter(t.team for t in first.report.teams + second.report.teams)
    assert teams == Counter(set(sandbox.team_keys))
    # ...and the store holds each exactly once
    assert Counter(stored(mailops_env, domain_daily, "domain")) == Counter(domains)
    assert sorted(stored(mailops_env, team_daily, "team")) == sorted(sandbox.team_keys)


def test_shards_keep_each_others_alerts_and_together_find_what_one_run_finds(mailops_env):
    # Given the alerts one whole run stores
    health(mailops_env)
    whole = stored_alerts(mailops_env)
    assert whole
    # When the same day is collected again in three shards, one of them twice
    for part in ("1/3", "2/3", "3/3", "2/3"):
        health(mailops_env, shard=part)
    # Then no shard erased another's alerts: the day's alerts are the whole run's
    assert stored_alerts(mailops_env) == whole


def test_a_shard_of_the_guard_takes_whole_groups(mailops_env):
    # Given every domain's partner (its guard group): three partners
    emboux = mailops_env.sandbox.world.emboux
    partner = {name: emboux.domain(name).partner_ref for name in emboux.domain_names()}
    # When the guard runs as the five shards of five (dry runs)
    seen: list[set[str]] = []
    for part in Shard.all_of(5):
        outcome = run_flow(outbound_guard, as_of=mailops_env.sandbox.now(), notify=False,
                           shard=str(part))
        assert outcome.ok, outcome.message
        seen.append({m.name for m in outcome.result.mailboxes})
    # Then every domain was guarded once, and no group is split between shards
    assert Counter(name for names in seen for name in names) == Counter(set(partner))
    groups = [{partner[name] for name in names} for names in seen if names]
    assert len(groups) >= 2
    assert sum(len(g) for g in groups) == len(set(partner.values()))


def test_contact_cleanup_shards_plan_disjoint_teams_and_an_empty_shard_does_nothing(
    mailops_env,
):
    # Given the configured teams, and a shard of eight that owns none of them
    teams = sorted(mailops_env.sandbox.team_keys)
    empty = next(s for s in Shard.all_of(8) if not any(s.owns(t) for t in teams))

    def plan(part: str) -> ContactCleanupResult:
        outcome = run_flow(contact_cleanup, as_of=mailops_env.sandbox.now(), notify=False,
                           shard=part)
        assert outcome.ok, outcome.message
        return outcome.result

    # When the cleanup is planned in two shards, and in the empty one
    halves = [plan("1/2"), plan("2/2")]
    nothing = plan(str(empty))
    # Then the two plans cover every team once, and the empty shard planned nothing
    assert sorted(halves[0].teams + halves[1].teams) == teams
    assert not set(halves[0].teams) & set(halves[1].teams)
    assert nothing.actions_total == 0 and nothing.teams == ()
    assert str(nothing.shard) == str(empty)


def test_a_shard_that_cannot_exist_fails_the_run_in_words(mailops_env):
    outcome = run_flow(daily_health, as_of=mailops_env.sandbox.now(), notify=False,
                       shard="3/2")
    assert not outcome.ok
    assert "shard 3/2 does not exist" in outcome.message
