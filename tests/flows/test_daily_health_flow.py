"""daily-health end to end: the flow under Prefect, over HTTP, against the sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.daily_health import daily_health
from flows.run import run_flow
from mailops.store import alerts, domain_daily, team_daily, team_top_senders

pytestmark = pytest.mark.usefixtures("prefect_harness")


def rows(env, table) -> list:
    with env.store() as store, store.engine.connect() as conn:
        return conn.execute(select(table)).all()


def count(env, table) -> int:
    with env.store() as store, store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def run(env, **params):
    return run_flow(daily_health, as_of=env.sandbox.now(), **params)


def test_every_team_and_domain_is_stored_with_exact_counts(mailops_env):
    # Given the sandbox's ground truth at this instant
    sandbox = mailops_env.sandbox
    truth = sandbox.truth("cleanbox")["cleanbox"]["teams"]
    window_day = (sandbox.now() - timedelta(hours=24)).date().isoformat()
    # When daily-health runs
    outcome = run(mailops_env)
    # Then every team and domain has its row, with the exact numbers
    assert outcome.ok, outcome.message
    stored = {row.team: row for row in rows(mailops_env, team_daily)}
    assert set(stored) == set(sandbox.team_keys)
    for name, row in stored.items():
        assert row.quarantine_backlog == truth[name]["quarantine_backlog"]
        assert row.failed_24h == truth[name]["days"][window_day]["messages"]["failed"]
        assert row.denied_24h == truth[name]["days"][window_day]["messages"]["denied"]
        assert row.weekly_used == truth[name]["weekly_used"]
    assert count(mailops_env, domain_daily) == len(sandbox.world.emboux.domain_names())
    assert count(mailops_env, team_top_senders) == 5 * len(stored)


def test_counts_are_the_same_when_the_server_gives_no_total(mailops_env):
    first = run(mailops_env).result
    mailops_env.sandbox.set_cleanbox_total(False)
    second = run(mailops_env).result
    assert [t.quarantine_backlog for t in second.report.teams] == [
        t.quarantine_backlog for t in first.report.teams
    ]


def test_running_the_same_day_again_replaces_its_rows(mailops_env):
    run(mailops_env)
    before = (count(mailops_env, team_daily), count(mailops_env, domain_daily),
              count(mailops_env, alerts))
    run(mailops_env)
    after = (count(mailops_env, team_daily), count(mailops_env, domain_daily),
             count(mailops_env, alerts))
    assert before == after


def test_a_team_whose_key_is_rejected_fails_alone(mailops_env, monkeypatch):
    # Given one more team, whose key Cleanbox does not know
    monkeypatch.setenv("BAD_KEY", "cbk_not_a_real_key_000000")
    with mailops_env.config_path.open("a") as config:
        config.write('[[teams]]\nname = "Globex"\napi_key_env = "BAD_KEY"\n')
    # When daily-health runs
    outcome = run(mailops_env)
    # Then the others are stored, the run failed naming the team, and it is an alert
    assert not outcome.ok
    assert "Cleanbox Globex" in outcome.message and "rejected the key of team 'Globex'" in (
        outcome.message
    )
    assert "cbk_not_a_real_key_000000" not in outcome.message
    assert {row.team for row in rows(mailops_env, team_daily)} == set(
        mailops_env.sandbox.team_keys
    )
    assert "collection_failed" in {a.key for a in outcome.result.report.alerts}


def test_injected_5xx_and_429_are_survived_with_the_same_numbers(mailops_env):
    sandbox = mailops_env.sandbox
    clean = run(mailops_env).result
    sandbox.inject_fault("GET /cleanbox/v1/**", "error", status=503, rate=0.3)
    sandbox.inject_fault("GET /emboux/**", "rate_limit", retry_after=0, rate=0.3)
    faulty = run(mailops_env)
    assert faulty.ok, faulty.message
    assert faulty.result.report.teams == clean.report.teams
    assert faulty.result.report.domains == clean.report.domains


def test_the_report_reaches_slack_once_escaped(mailops_env):
    run(mailops_env)
    [post] = mailops_env.sandbox.slack_posts()
    payload = post["payload"]
    assert payload["blocks"][0]["type"] == "header"
    assert len(payload["blocks"]) <= 50
    rendered = json.dumps(payload)
    assert "<script" not in rendered and "<!channel>" not in rendered


def test_a_slack_failure_keeps_the_data_and_fails_the_run(mailops_env):
    mailops_env.sandbox.inject_fault("POST /slack/**", "error", status=500)
    outcome = run(mailops_env)
    assert not outcome.ok and "the report was not sent" in outcome.message
    assert "Slack webhook answered 500" in outcome.message
    assert count(mailops_env, team_daily) == len(mailops_env.sandbox.team_keys)
    assert mailops_env.sandbox.slack_webhook_url not in outcome.message


def test_without_slack_the_report_is_written_under_data(mailops_env, monkeypatch):
    monkeypatch.delenv("MAILOPS_SLACK_WEBHOOK_URL")
    outcome = run(mailops_env)
    assert outcome.ok
    assert str(mailops_env.data_dir / "slack") in outcome.result.notification


def test_mailops_health_json_prints_the_documented_object(mailops_env, cli):
    # Given one team asked for by name
    name = next(iter(mailops_env.sandbox.team_keys))
    # When the command runs with --json
    result = CliRunner().invoke(
        cli, ["health", "--team", name, "--as-of", mailops_env.sandbox.now().isoformat(),
              "--json"],
    )
    # Then it printed one object with the keys
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    assert {"day", "teams", "domains", "alerts", "errors"} <= set(payload)
    [team] = payload["teams"]
    assert set(team) >= {
        "team", "weekly_used", "weekly_limit", "usage_pct", "aliases_used", "aliases_limit",
        "mailboxes_used", "mailboxes_limit", "quarantine_backlog", "failed_count",
        "denied_count", "top_senders",
    }
    assert set(team["top_senders"][0]) == {"email", "count", "state", "category"}
    assert {"name", "partner_ref", "bounce_rate", "outbound_sent_today"} <= set(
        payload["domains"][0]
    )


def test_an_unknown_team_name_is_refused_with_the_configured_names(mailops_env, cli):
    result = CliRunner().invoke(cli, ["health", "--team", "Nobody", "--json"])
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and "unknown team 'Nobody'" in payload["error"]


def test_the_run_leaves_a_metrics_table_and_an_alerts_note_in_prefect(mailops_env):
    from prefect.artifacts import Artifact

    outcome = run(mailops_env)
    table = Artifact.get("daily-health-teams")
    note = Artifact.get("daily-health-alerts")
    assert table is not None and note is not None
    assert all(name in str(table.data) for name in mailops_env.sandbox.team_keys)
    assert f"# Daily health {outcome.result.report.day.isoformat()}" in str(note.data)


def test_two_shards_without_slack_keep_both_reports_in_the_outbox(mailops_env, monkeypatch):
    # Given no Slack configured
    monkeypatch.delenv("MAILOPS_SLACK_WEBHOOK_URL")
    # When shard 1/2 and then shard 2/2 of the same day run
    first = run(mailops_env, shard="1/2")
    second = run(mailops_env, shard="2/2")
    # Then each report has its own outbox file, named by day, shard and run
    assert first.ok and second.ok, (first.message, second.message)
    day = first.result.report.day.isoformat()
    kept = sorted((mailops_env.data_dir / "slack").glob(f"daily-health-{day}-*.json"))
    assert sorted(p.name for p in kept) == sorted([
        f"daily-health-{day}-shard-1of2-{first.run_id}.json",
        f"daily-health-{day}-shard-2of2-{second.run_id}.json",
    ])
    assert all(json.loads(p.read_text())["blocks"] for p in kept)
