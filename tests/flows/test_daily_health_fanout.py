"""daily-health-fanout under Prefect: shards started as deployment runs, one merged report."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from flows.daily_health import daily_health
from flows.daily_health_fanout import daily_health_fanout
from flows.run import run_flow
from mailops.store import domain_daily, team_daily


@pytest.fixture
def shard_deployment(serve_deployments):
    """daily-health's shard deployment, served as `mailops serve` serves it."""
    deployment = daily_health.to_deployment(name="daily-health-shard",
                                            parameters={"notify": False})
    return serve_deployments(deployment)


def test_the_fanout_runs_two_shards_and_posts_one_merged_report(
    mailops_env, shard_deployment, monkeypatch
):
    # Given the sandbox's teams and domains, and no Slack post yet
    sandbox = mailops_env.sandbox
    domains = set(sandbox.world.emboux.domain_names())
    monkeypatch.setenv("MAILOPS_FANOUT__POLL_SECONDS", "1")
    monkeypatch.setenv("MAILOPS_FANOUT__SHARD_TIMEOUT_SECONDS", "300")
    # When the fan-out runs in two shards
    outcome = run_flow(daily_health_fanout, shards=2, as_of=sandbox.now())
    # Then both shards ran to completion as their own flow runs
    assert outcome.ok, outcome.message
    result = outcome.result
    assert [str(s.shard) for s in result.shards] == ["1/2", "2/2"]
    assert {s.state for s in result.shards} == {"COMPLETED"}
    assert len({s.flow_run_id for s in result.shards}) == 2
    # ...every team and domain landed exactly once
    with mailops_env.store() as store, store.engine.connect() as conn:
        stored_domains = Counter(r.domain for r in conn.execute(select(domain_daily)))
        stored_teams = Counter(r.team for r in conn.execute(select(team_daily)))
    assert stored_domains == Counter(domains)
    assert stored_teams == Counter(set(sandbox.team_keys))
    # ...and one report covering all of them was posted, by the fan-out alone
    assert {d.name for d in result.report.domains} == domains
    assert {t.team for t in result.report.teams} == set(sandbox.team_keys)
    posts = [p["payload"] for p in sandbox.slack_posts()]
    assert len(posts) == 1
    assert f"{len(sandbox.team_keys)} teams, {len(domains)} domains" in str(posts[0])


def test_the_fanout_without_its_shard_deployment_fails_in_words(
    mailops_env, prefect_harness, monkeypatch
):
    monkeypatch.setattr("flows.daily_health_fanout.SHARD_DEPLOYMENT", "daily-health/not-deployed")
    outcome = run_flow(daily_health_fanout, shards=2, as_of=mailops_env.sandbox.now(),
                       notify=False)
    assert not outcome.ok
    assert "no deployment 'daily-health/not-deployed'" in outcome.message
    assert "mailops serve" in outcome.message
