"""contact-cleanup end to end: the flow under Prefect, over HTTP, against a sandbox of its own."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flows.contact_cleanup import contact_cleanup
from flows.resume import Resume
from flows.run import run_flow
from mailops.cleanbox import CleanboxClient
from mailops.contacts import (
    JOB,
    ContactChange,
    ContactCleanupResult,
    PlanSummary,
    classified_pages,
    contact_audit,
    parse_target,
)
from mailops.report.slack import contact_cleanup_message
from mailops.rules.contacts import classify
from mailops.rules.shard import Shard
from mailops.settings import ContactRules, load_settings
from mailops.store import ChangeStatus
from sandbox.server import Sandbox

pytestmark = pytest.mark.usefixtures("prefect_harness")

NEW_STATE = {"block": "blocked", "whitelist": "whitelisted", "mute": "muted"}
NOW_2026 = datetime(2026, 10, 1, tzinfo=UTC)


def run(env, resume_run_id: str | None = None, **params):
    """contact-cleanup, or its resume flow when `resume_run_id` is given (as the CLI does)."""
    from flows.contact_cleanup import resume_contact_cleanup

    if resume_run_id:
        resume = Resume(run_id=resume_run_id, as_of=env.sandbox.now(), notify=False, **params)
        return run_flow(resume_contact_cleanup, resume=resume)
    return run_flow(contact_cleanup, as_of=env.sandbox.now(), notify=False, **params)


def expected_plan(env) -> dict[str, str]:
    """What the rules make of the ground truth: uuid -> new state, for every unset contact."""
    world, rules = env.sandbox.world, ContactRules()
    team = next(t for t in world.teams if t.name == env.team)
    plan = {}
    for i in range(len(team.contacts)):
        from mailops.models.cleanbox import Contact

        contact = Contact.model_validate(team.contacts.to_json(i, team.salt, world.categories))
        if contact.state == "unset":
            decision = classify(contact, rules, env.sandbox.now())
            if decision.changes:
                plan[contact.uuid] = decision.new_state
    return plan


def stored_plan(env, run_id: str) -> dict[str, str]:
    with env.store() as store:
        return {parse_target(s.change.target)[1]: s.change.new_value
                for s in store.plans.of_run(run_id)}


def test_a_dry_run_stores_the_whole_plan_and_changes_nothing(contacts_env):
    before = contacts_env.states()
    outcome = run(contacts_env)
    assert outcome.ok, outcome.message
    assert outcome.state == "Dry run"
    result = outcome.result
    assert contacts_env.states() == before
    assert result.dry_run and result.refused is None
    assert result.applied == {"block": 0, "whitelist": 0, "mute": 0}
    expected = expected_plan(contacts_env)
    assert stored_plan(contacts_env, result.run_id) == expected
    planned = result.planned
    assert planned["block"] + planned["whitelist"] + planned["mute"] == len(expected)
    assert sum(planned.values()) + result.skipped_invalid == sum(
        s == "unset" for s in before.values())
    assert result.actions and result.actions[0].email and result.actions[0].reason


def test_apply_sets_every_planned_state_once_and_audits_each(contacts_env):
    before = contacts_env.states()
    outcome = run(contacts_env, apply=True)
    assert outcome.ok, outcome.message
    assert outcome.state == "Applied by --apply"
    result, after = outcome.result, contacts_env.states()
    plan = stored_plan(contacts_env, result.run_id)
    assert {u: after[u] for u in plan} == plan
    assert {u: s for u, s in after.items() if u not in plan} == {
        u: s for u, s in before.items() if u not in plan}
    with contacts_env.store() as store:
        audits = store.audit.of_run(result.run_id)
    assert Counter(a.change.target for a in audits).most_common(1)[0][1] == 1
    assert len(audits) == len(plan) == sum(result.applied.values())
    assert all(a.change.old_value == "unset" and a.change.reason for a in audits)
    with contacts_env.store() as store:
        rows = contact_audit(store, result.run_id)
    emails = {a.uuid: a.email for a in result.actions}
    assert len(rows) == len(plan) and all(r.email and r.team == contacts_env.team for r in rows)
    assert all(emails[r.uuid] == r.email for r in rows if r.uuid in emails)
    assert {r.uuid: r.new_state for r in rows} == plan


def test_a_plan_over_the_cap_is_refused_and_changes_nothing(contacts_env):
    before = contacts_env.states()
    outcome = run(contacts_env, apply=True, max_actions=5)
    assert (outcome.ok, outcome.state) == (False, "Over cap")
    assert "more than the cap of 5" in outcome.message and "--max-actions" in outcome.message
    assert outcome.result.refused == outcome.message
    assert contacts_env.states() == before


def test_the_default_cap_is_100():
    assert ContactRules().max_actions_per_run == 100


def test_pages_shifting_under_changes_hide_no_contact(contacts_env, monkeypatch):
    # Small pages: applying while paging (the contact-bot guide's way,
    # docs/cleanbox-api.md#contact-rules) would skip a contact per change, since each blocked
    # contact leaves the unset listing and the next page moves up.
    monkeypatch.setenv("MAILOPS_CONTACTS__PER_PAGE", "7")
    expected = expected_plan(contacts_env)
    first = run(contacts_env, apply=True)
    assert first.ok, first.message
    assert sum(first.result.applied.values()) == len(expected)
    after = contacts_env.states()
    assert {u: after[u] for u in expected} == expected
    second = run(contacts_env)
    assert second.ok and second.result.actions_total == 0


def test_5xx_429_and_lost_answers_during_apply_lose_no_change_and_make_none_twice(contacts_env):
    sandbox = contacts_env.sandbox
    sandbox.inject_fault("PUT /cleanbox/v1/contacts/*", "error", status=503, rate=0.3)
    sandbox.inject_fault("PUT /cleanbox/v1/contacts/*", "rate_limit", retry_after=0, rate=0.2)
    sandbox.inject_fault("PUT /cleanbox/v1/contacts/*", "lost_response", rate=0.1)
    outcome = run(contacts_env, apply=True)
    sandbox.clear_faults()
    if not outcome.ok:  # a change that ran out of retries is finished by a resumed run
        outcome = run(contacts_env, apply=True, resume_run_id=outcome.result.run_id)
    assert outcome.ok, outcome.message
    run_id = outcome.result.run_id
    plan = stored_plan(contacts_env, run_id)
    after = contacts_env.states()
    assert {u: after[u] for u in plan} == plan
    with contacts_env.store() as store:
        audits = store.audit.of_run(run_id)
        assert all(s.status is ChangeStatus.APPLIED for s in store.plans.of_run(run_id))
    assert sorted(a.change.target for a in audits) == sorted(set(a.change.target
                                                                  for a in audits))
    assert len(audits) == len(plan)


def test_a_failed_apply_is_resumed_from_the_stored_plan(contacts_env):
    sandbox = contacts_env.sandbox
    # Given half the PUTs answered 501 (not retried: only 429, 500, 502, 503, 504 are)
    sandbox.inject_fault("PUT /cleanbox/v1/contacts/*", "error", status=501, count=10_000,
                         rate=0.5)
    first = run(contacts_env, apply=True)
    sandbox.clear_faults()
    assert not first.ok and "--resume" in first.message
    run_id = first.result.run_id
    done_before = sum(first.result.applied.values())
    second = run(contacts_env, apply=True, resume_run_id=run_id)
    assert second.ok, second.message
    assert second.result.reused_plan
    plan = stored_plan(contacts_env, run_id)
    assert sum(second.result.applied.values()) == len(plan) > done_before
    with contacts_env.store() as store:
        assert len(store.audit.of_run(run_id)) == len(plan)


def test_a_change_whose_answer_was_lost_and_whose_retry_failed_is_still_audited_once(
    contacts_env,
):
    # Given a reviewed plan, and one contact whose PUT is applied but its answer lost, and
    # whose retry is answered 500 (retried again: a PUT is idempotent)
    sandbox = contacts_env.sandbox
    dry = run(contacts_env)
    run_id = dry.result.run_id
    uuid = next(iter(stored_plan(contacts_env, run_id)))
    target = f"PUT /cleanbox/v1/contacts/{uuid}"
    sandbox.inject_fault(target, "lost_response", count=1)
    sandbox.inject_fault(target, "error", status=500, count=1)
    # When the plan is applied
    applied = run(contacts_env, apply=True, resume_run_id=run_id)
    sandbox.clear_faults()
    # Then the contact's state confirms the change was made: applied, audited once, like the
    # one change the sandbox made
    assert applied.ok, applied.message
    with contacts_env.store() as store:
        audited = [a for a in store.audit.of_run(run_id) if a.change.target.endswith(uuid)]
    made = [c for c in sandbox.journal()["changes"] if c["target"] == uuid]
    assert len(audited) == len(made) == 1


def test_no_approval_before_the_timeout_means_no_change(contacts_env, monkeypatch):
    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", "true")
    monkeypatch.setenv("MAILOPS_APPROVAL__TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("MAILOPS_APPROVAL__POLL_SECONDS", "1")
    before = contacts_env.states()
    outcome = run(contacts_env, apply=True)
    # Then it ended under its own verdict, a failure a person must look at, not Prefect's own
    # "paused and never resumed"
    assert (outcome.ok, outcome.state) == (False, "Expired")
    assert outcome.message == "no approval within 2 s: nothing was changed"
    assert contacts_env.states() == before
    with contacts_env.store() as store, store.engine.connect() as conn:
        from sqlalchemy import select

        from mailops.store import planned_changes
        statuses = set(conn.execute(select(planned_changes.c.status)).scalars())
    assert statuses == {"planned"}


def test_the_command_prints_one_json_object(contacts_env, cli):
    as_of = contacts_env.sandbox.now().isoformat()
    answer = CliRunner().invoke(cli, ["contacts", "cleanup", "--json", "--no-notify",
                                      "--as-of", as_of])
    assert answer.exit_code == 0, answer.output
    body = json.loads(answer.stdout)
    assert set(body) >= {"run_id", "dry_run", "planned", "applied", "skipped_invalid",
                         "refused", "actions"}
    assert set(body["planned"]) == {"block", "whitelist", "mute", "keep"}
    refused = CliRunner().invoke(cli, ["contacts", "cleanup", "--apply", "--max-actions", "1",
                                       "--no-notify", "--as-of", as_of])
    assert refused.exit_code == 1 and "--max-actions" in refused.stderr


def test_the_slack_summary_is_posted_escaped(contacts_env, monkeypatch):
    monkeypatch.delenv("MAILOPS_SLACK_WEBHOOK_URL")  # no Slack: the outbox file
    outcome = run_flow(contact_cleanup, as_of=contacts_env.sandbox.now())
    assert outcome.ok and outcome.result.notification
    outbox = Path(load_settings().data_dir) / "slack"
    message = json.loads(next(outbox.glob("contact-cleanup-*.json")).read_text())
    assert "Contact cleanup (dry run)" in message["text"]


def test_the_slack_summary_escapes_addresses_and_reasons():
    result = ContactCleanupResult(
        "r1", False, {"block": 1, "whitelist": 0, "mute": 0, "keep": 3},
        {"block": 1, "whitelist": 0, "mute": 0}, 2, None,
        (ContactChange("u", '"@channel"@urgent.buzz', "block", "junk TLD .buzz <script>",
                       "<!here> team"),),
        1, ("<!here> team",), {"junk-tld": 1}, 5, 0, False, (), {}, Shard.parse(""),
    )
    text = json.dumps(contact_cleanup_message(result))
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "@channel" not in text and "<!here>" not in text


# --- the plan does not depend on the page size ------------------------------------------------


@pytest.fixture(scope="module")
def paging_sandbox():
    """A read-only sandbox whose first team has 331 unset contacts, and its reference plan."""
    with Sandbox.start(seed=7, scale="small") as sb:
        yield sb, asyncio.run(plan_with(sb, 100))


async def plan_with(sandbox: Sandbox, per_page: int) -> tuple[list, PlanSummary]:
    name, key = next(iter(sandbox.team_keys.items()))
    from pydantic import SecretStr

    from mailops.settings import Settings

    summary = PlanSummary("t")
    settings_ = Settings(cleanbox_base_url=sandbox.cleanbox_url)
    async with CleanboxClient.from_settings(settings_) as client:
        team = client.for_team(name, SecretStr(key))
        decided = [
            (c.uuid, d.action.value, d.reason)
            async for page in classified_pages(team, name, ContactRules(), sandbox.now(),
                                               summary, per_page=per_page)
            for c, d in page
        ]
    return decided, summary


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(per_page=st.integers(min_value=5, max_value=100))
def test_the_plan_is_the_same_whatever_the_page_size(paging_sandbox, per_page):
    sandbox, (reference, ref_summary) = paging_sandbox
    decided, summary = asyncio.run(plan_with(sandbox, per_page))
    assert decided == reference
    assert summary.planned == ref_summary.planned and summary.duplicates == 0


def test_the_job_name():
    assert JOB == "contact-cleanup"


# --- approval, several teams, odd listings, the spam-score check -------------------------------


def test_an_approved_plan_is_applied(contacts_env, monkeypatch):
    from test_approval import answer_when_paused

    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", "true")
    monkeypatch.setenv("MAILOPS_APPROVAL__POLL_SECONDS", "1")
    seen: list = []
    watcher = answer_when_paused({"approve": True, "note": "looked fine"}, seen)
    outcome = run(contacts_env, apply=True)
    watcher.join(timeout=30)
    assert seen and outcome.ok, outcome.message
    assert outcome.state == "Applied"
    plan = stored_plan(contacts_env, outcome.result.run_id)
    after = contacts_env.states()
    assert plan and {u: after[u] for u in plan} == plan


def test_every_team_is_planned_under_its_own_target(mailops_env):
    outcome = run_flow(contact_cleanup, as_of=mailops_env.sandbox.now(), notify=False)
    assert outcome.ok, outcome.message
    with mailops_env.store() as store:
        teams = {parse_target(s.change.target)[0]
                 for s in store.plans.of_run(outcome.result.run_id)}
    assert teams == set(mailops_env.sandbox.team_keys)
    assert list(outcome.result.teams) == list(mailops_env.sandbox.team_keys)


@pytest.mark.anyio
async def test_items_that_cannot_be_classified_are_skipped_and_counted(server, make_client):
    from scripted_server import Reply

    def contact(uuid: str, email, **extra):
        return {"uuid": uuid, "email": email, "email_count": 80, "state": "unset",
                "category": None, "created_at": "2026-01-01T00:00:00Z",
                "has_subscriptions": False, **extra}

    items = [contact("1", "spam@x.xyz"), contact("2", ""), contact("3", "no-at-sign"),
             contact("4", None), {"uuid": "5"}, "not a contact", contact("6", "big@corp.com"),
             contact("1", "spam@x.xyz")]
    server.route("GET", "/contacts", lambda request: Reply(json={
        "data": items, "page": 1, "per_page": 100, "total_pages": 1}))
    summary = PlanSummary("t")
    decided = [
        (c.uuid, d.action.value)
        async for page in classified_pages(CleanboxClient(make_client()), "acme",
                                           ContactRules(), NOW_2026, summary)
        for c, d in page
    ]
    assert [d for d in decided if d[1] != "invalid"] == [("1", "block"), ("6", "block")]
    assert summary.skipped_invalid == 5 and summary.duplicates == 1
    assert summary.planned == {"block": 2}


def test_the_spam_score_check_keeps_high_volume_senders_with_low_scores(paging_sandbox):
    sandbox, (_, plain) = paging_sandbox
    name, key = next(iter(sandbox.team_keys.items()))
    rules = ContactRules(spam_score_check=True, low_spam_score=10, spam_score_min_messages=1,
                         spam_score_days=3650)

    async def checked() -> PlanSummary:
        from pydantic import SecretStr

        from mailops.settings import Settings

        summary = PlanSummary("t")
        async with CleanboxClient.from_settings(
            Settings(cleanbox_base_url=sandbox.cleanbox_url)
        ) as client:
            team = client.for_team(name, SecretStr(key))
            async for _ in classified_pages(team, name, rules, sandbox.now(), summary):
                pass
        return summary

    summary = asyncio.run(checked())
    kept = summary.by_rule["low-spam-score"]
    assert kept > 0
    assert summary.by_rule["high-volume"] + kept == plain.by_rule["high-volume"]


def test_a_rejected_key_fails_the_run_at_once_with_no_plan(contacts_env, monkeypatch):
    monkeypatch.setenv("SANDBOX_TEAM_KEY_0", "cbk_not_a_real_key_000000")
    started = time.monotonic()
    outcome = run(contacts_env)
    assert not outcome.ok and "401" in outcome.message
    assert "cbk_not_a_real_key" not in outcome.message
    assert time.monotonic() - started < 2  # a rejected key is not retried
    with contacts_env.store() as store, store.engine.connect() as conn:
        from sqlalchemy import func, select

        from mailops.store import planned_changes
        assert conn.execute(select(func.count()).select_from(planned_changes)).scalar_one() == 0
