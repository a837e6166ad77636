"""quarantine-accept end to end: the flow under Prefect, over HTTP, against a sandbox of its own.

Each test adds whitelisted contacts and quarantined mail to a fresh world, then starts it; the
world's own backlog (364 messages on the first team) has no whitelisted sender.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from flows.quarantine_accept import quarantine_accept
from flows.resume import Resume
from flows.run import run_flow
from mailops.quarantine import JOB, HeldMessage, QuarantineAcceptResult, TeamAccepts, parse_target
from mailops.report.slack import quarantine_accept_message
from mailops.store import ChangeStatus
from sandbox.cleanbox_state import QUARANTINED

pytestmark = pytest.mark.usefixtures("prefect_harness")

ACCEPT = "POST /cleanbox/v1/quarantine/accept"
WORLD_BACKLOG = 364


def run(env, resume_run_id: str | None = None, **params):
    """quarantine-accept, or its resume flow when `resume_run_id` is given (as the CLI does)."""
    from flows.quarantine_accept import resume_quarantine_accept

    if resume_run_id:
        return run_flow(resume_quarantine_accept,
                        resume=Resume(run_id=resume_run_id, notify=False, **params))
    return run_flow(quarantine_accept, notify=False, **params)


def whitelisted_mail(env, n: int, *, score: float = 1.0) -> list[str]:
    """`n` quarantined messages from whitelisted senders, spelled in several ways."""
    spellings = ['"Sender {i}" <Sender{i}@Partner.COM>', " sender{i}@partner.com ",
                 "SENDER{i}@PARTNER.COM", "Sender {i} <sender{i}@partner.com.>"]
    env.whitelist(*(f"sender{i}@partner.com" for i in range(n)))
    return [env.quarantine(spellings[i % 4].format(i=i), score) for i in range(n)]


def count_accept_calls(sandbox) -> str:
    """A fault rule that changes nothing and counts the accept requests (`matched`)."""
    return sandbox.inject_fault(ACCEPT, "latency", latency_ms=0)["id"]


def matched(sandbox, rule_id: str) -> int:
    return next(r["matched"] for r in sandbox.faults() if r["id"] == rule_id)


def audited_uuids(env, run_id: str) -> list[str]:
    with env.store() as store:
        return [parse_target(a.change.target)[1] for a in store.audit.of_run(run_id)]


@pytest.mark.parametrize(("threshold", "acts"), [(WORLD_BACKLOG + 3, False),
                                                 (WORLD_BACKLOG + 2, True)])
def test_the_backlog_must_exceed_the_threshold(quarantine_env, threshold, acts):
    planned = whitelisted_mail(quarantine_env, 3)
    quarantine_env.start()
    outcome = run(quarantine_env, threshold=threshold)
    assert outcome.ok, outcome.message
    [team] = outcome.result.teams
    assert team.backlog == WORLD_BACKLOG + 3 and team.acted is acts
    assert list(team.planned) == (planned[::-1] if acts else [])  # newest first, as listed
    assert team.kept == {"not_whitelisted": WORLD_BACKLOG if acts else 0, "spam_score": 0}


def test_below_the_default_threshold_nothing_is_read_or_planned(quarantine_env):
    team = quarantine_env.team
    for i in list(team.messages.by_status[QUARANTINED])[: WORLD_BACKLOG - 10]:
        team.messages.release(i)
    quarantine_env.start()
    outcome = run(quarantine_env, apply=True)
    assert outcome.ok, outcome.message
    [result] = outcome.result.teams
    assert (result.backlog, result.threshold, result.acted) == (10, 10, False)
    assert result.planned == () and result.accepted == 0
    assert len(quarantine_env.held()) == 10


def test_a_dry_run_plans_every_whitelisted_message_and_changes_nothing(quarantine_env):
    planned = whitelisted_mail(quarantine_env, 7)
    quarantine_env.start()
    before = quarantine_env.held()
    outcome = run(quarantine_env)
    assert outcome.ok, outcome.message
    [team] = outcome.result.teams
    assert team.dry_run and sorted(team.planned) == sorted(planned)
    assert team.accepted == 0 and team.backlog_after == team.backlog
    assert quarantine_env.held() == before
    with quarantine_env.store() as store:
        stored = store.plans.of_run(outcome.result.run_id)
    assert {s.status for s in stored} == {ChangeStatus.PLANNED}
    change = stored[0].change
    assert (change.field, change.old_value, change.new_value, change.action) == (
        "status", "quarantined", "released", "accept")
    assert change.target.startswith(f"quarantine:{quarantine_env.team.name}:")


@pytest.mark.parametrize(("n", "calls"), [(100, 1), (101, 2)])
def test_apply_accepts_in_batches_of_100_and_audits_every_uuid(quarantine_env, n, calls):
    planned = whitelisted_mail(quarantine_env, n)
    sandbox = quarantine_env.start()
    counter = count_accept_calls(sandbox)
    outcome = run(quarantine_env, apply=True)
    assert outcome.ok, outcome.message
    [team] = outcome.result.teams
    assert matched(sandbox, counter) == calls
    assert team.accepted == n and not quarantine_env.held() & set(planned)
    assert (team.backlog, team.backlog_after) == (WORLD_BACKLOG + n, WORLD_BACKLOG)
    assert sorted(audited_uuids(quarantine_env, outcome.result.run_id)) == sorted(planned)


def test_the_spam_score_guard_keeps_high_scores_from_whitelisted_senders(quarantine_env):
    low = whitelisted_mail(quarantine_env, 4, score=4.9)
    quarantine_env.whitelist("boss@corp.com")
    at_guard = quarantine_env.quarantine('"Boss" <boss@corp.com>', 5.0)
    above = quarantine_env.quarantine("Boss@Corp.com", 9.5)
    quarantine_env.start()
    outcome = run(quarantine_env, apply=True, max_spam_score=5.0)
    assert outcome.ok, outcome.message
    [team] = outcome.result.teams
    assert sorted(team.planned) == sorted(low)
    assert team.kept == {"not_whitelisted": WORLD_BACKLOG, "spam_score": 2}
    assert {at_guard, above} <= quarantine_env.held()


def test_a_5xx_between_batches_accepts_nothing_twice_and_forgets_nothing(quarantine_env):
    planned = whitelisted_mail(quarantine_env, 250)
    sandbox = quarantine_env.start()
    counter = count_accept_calls(sandbox)
    sandbox.inject_fault(ACCEPT, "error", status=503, count=1)
    sandbox.inject_fault(ACCEPT, "lost_response", count=1)
    outcome = run(quarantine_env, apply=True)
    assert outcome.ok, outcome.message
    [team] = outcome.result.teams
    assert team.accepted == 250 and not quarantine_env.held() & set(planned)
    # the lost answer's batch is confirmed released from the listing; the refused one is
    # sent again in the second pass
    assert matched(sandbox, counter) == 3 + 1
    assert [r["fired"] for r in sandbox.faults() if r["kind"] != "latency"] == [1, 1]
    audited = audited_uuids(quarantine_env, outcome.result.run_id)
    assert len(audited) == len(set(audited)) == 250 and set(audited) == set(planned)


def test_a_batch_still_failing_is_finished_by_resuming_the_run(quarantine_env):
    planned = whitelisted_mail(quarantine_env, 150)
    sandbox = quarantine_env.start()
    rule = sandbox.inject_fault(ACCEPT, "error", status=503)
    first = run(quarantine_env, apply=True)
    assert not first.ok and "--resume" in first.message
    run_id = first.result.run_id
    with quarantine_env.store() as store:
        assert {s.status for s in store.plans.of_run(run_id)} == {ChangeStatus.FAILED}
    sandbox.remove_fault(rule["id"])
    second = run(quarantine_env, apply=True, resume_run_id=run_id)
    assert second.ok, second.message
    [team] = second.result.teams
    assert team.reused_plan and team.accepted == 150
    assert not quarantine_env.held() & set(planned)
    assert sorted(audited_uuids(quarantine_env, run_id)) == sorted(planned)
    third = run(quarantine_env, apply=True)  # re-running finds nothing left to accept
    assert third.ok and third.result.teams[0].planned == ()


def test_a_backlog_that_is_not_a_whole_number_of_pages_is_counted_exactly(quarantine_env):
    planned = whitelisted_mail(quarantine_env, 37)
    quarantine_env.start(cleanbox_total=False)  # no "total": counted from the last page
    outcome = run(quarantine_env)
    assert outcome.ok, outcome.message
    [team] = outcome.result.teams
    assert team.backlog == WORLD_BACKLOG + 37 == len(quarantine_env.held())
    assert sorted(team.planned) == sorted(planned)
    assert len(team.planned) + sum(team.kept.values()) == team.backlog


def test_a_plan_over_the_cap_is_refused_and_accepts_nothing(quarantine_env):
    whitelisted_mail(quarantine_env, 12)
    quarantine_env.start()
    before = quarantine_env.held()
    outcome = run(quarantine_env, apply=True, max_actions=11)
    assert not outcome.ok and "--max-actions 12" in outcome.message
    assert outcome.result.refused and quarantine_env.held() == before


def test_an_approved_plan_is_applied(quarantine_env, monkeypatch):
    from test_approval import answer_when_paused

    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", "true")
    monkeypatch.setenv("MAILOPS_APPROVAL__POLL_SECONDS", "1")
    planned = whitelisted_mail(quarantine_env, 5)
    quarantine_env.start()
    seen: list = []
    watcher = answer_when_paused({"approve": True, "note": "fine"}, seen)
    outcome = run(quarantine_env, apply=True)
    watcher.join(timeout=30)
    assert seen and outcome.ok, outcome.message
    assert not quarantine_env.held() & set(planned)


def test_the_command_prints_the_documented_json(quarantine_env, cli):
    planned = whitelisted_mail(quarantine_env, 3)
    quarantine_env.start(teams=2)
    answer = CliRunner().invoke(cli, ["quarantine", "accept", "--json", "--no-notify"])
    assert answer.exit_code == 0, answer.output
    body = json.loads(answer.stdout)
    assert isinstance(body, list) and len(body) == 2
    first = body[0]
    assert {"team", "backlog", "threshold", "dry_run", "planned", "accepted", "kept"} <= set(first)
    assert sorted(first["planned"]) == sorted(planned) and first["dry_run"] is True
    assert first["kept"] == {"not_whitelisted": WORLD_BACKLOG, "spam_score": 0}
    one = CliRunner().invoke(cli, ["quarantine", "accept", "--team", first["team"], "--apply",
                                   "--threshold", "5", "--json", "--no-notify"])
    assert one.exit_code == 0, one.output
    single = json.loads(one.stdout)
    assert single["team"] == first["team"] and single["accepted"] == 3
    assert single["threshold"] == 5 and single["dry_run"] is False
    human = CliRunner().invoke(cli, ["quarantine", "accept", "--no-notify"])
    assert human.exit_code == 0, human.output
    assert "not whitelisted" in human.stdout and "backlog" in human.stdout


def test_a_resumed_run_refuses_a_new_threshold_since_its_plan_is_decided(cli):
    # Given a resume of some earlier run, asked with a threshold of its own
    answer = CliRunner().invoke(cli, ["quarantine", "accept", "--apply", "--resume", "r1",
                                      "--threshold", "3"])
    # Then it stops before anything runs: one line naming the option, exit 2
    assert answer.exit_code == 2
    assert "--threshold" in answer.stderr and len(answer.stderr.strip().splitlines()) == 1


def test_the_report_goes_to_slack_escaped(quarantine_env):
    quarantine_env.whitelist("boss@corp.com")
    quarantine_env.quarantine('"<!channel> @here" <boss@corp.com>', subject="<script>&")
    quarantine_env.start()
    outcome = run_flow(quarantine_accept, threshold=0)
    assert outcome.ok and outcome.result.notification
    message = quarantine_env.sandbox.slack_posts()[-1]["payload"]
    text = json.dumps(message)
    assert "Quarantine accept (dry run)" in message["text"]
    assert "<!channel>" not in text and "&lt;script&gt;&amp;" in text


def test_the_slack_message_shows_before_after_and_why_kept():
    def team(name: str, backlog: int, after: int, planned: int, kept: tuple[int, int],
             top: tuple[HeldMessage, ...] = ()) -> TeamAccepts:
        return TeamAccepts(name, backlog, 10, False, ("u1",) * planned, planned,
                           {"not_whitelisted": kept[0], "spam_score": kept[1]}, after,
                           backlog > 10, 5, top, "r1", False, 0, None)

    result = QuarantineAcceptResult(
        "r1", False, datetime(2026, 10, 1, tzinfo=UTC), 500,
        (team("A", 20, 12, 8, (10, 2), (HeldMessage("u1", "a@b.c", "s", "r"),)),
         team("B", 3, 3, 0, (0, 0))),
    )
    text = json.dumps(quarantine_accept_message(result), ensure_ascii=False)
    assert "20 → 12" in text and "8 accepted" in text and "2 spam score" in text
    assert "not above the threshold" in text and "…and 7 more" in text


def test_the_job_name():
    assert JOB == "quarantine-accept" and quarantine_accept.name == "quarantine-accept"
