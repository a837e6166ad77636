"""outbound-guard end to end: the flow under Prefect, over HTTP, against its own sandbox.

The module's sandbox moves forward day by day; the tests run in order on its clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from flows.outbound_guard import outbound_guard
from flows.run import run_flow
from mailops.gate import GateDecision, answered
from sandbox.server import Sandbox

pytestmark = pytest.mark.usefixtures("prefect_harness")

GUILLOTINE_PCT = 0.5


def guillotined_at(domains: dict, name: str) -> str | None:
    for suspension in domains[name]["suspensions"]:
        if suspension["cause"] == "guillotine":
            return suspension["at"]
    return None


def test_a_deteriorating_domain_is_suspended_before_the_guillotine(guard_env):
    sb = guard_env.sandbox
    # Given a week of traffic, and the domains that are about to go bad while still active
    sb.advance(days=8)
    start = guard_env.domains()
    deteriorating = {d.name for d in sb.world.domains if d.deteriorates_from is not None
                     and start[d.name]["outbound_status"] == "active"}
    left_alone = {name for name, row in start.items() if row["outbound_status"] == "suspended"}
    assert deteriorating and left_alone
    # When the guard polls every 12 simulated hours with --apply
    results = []
    suspended_at: dict[str, datetime] = {}
    for _ in range(5):
        sb.advance(hours=12)
        outcome = run_flow(outbound_guard, apply=True, as_of=sb.now())
        assert outcome.ok, outcome.message
        results.append(outcome.result)
        for action in outcome.result.actions:
            if action.action == "suspend":
                suspended_at.setdefault(action.domain, sb.now())
    end = guard_env.domains()
    # Then a deteriorating domain was suspended by the guard, with the month's bounce rate
    # still under EmBoux's threshold, and the guillotine never struck it
    caught = sorted(deteriorating & set(suspended_at))
    assert caught, f"no deteriorating domain caught among {sorted(deteriorating)}"
    name = caught[0]
    ours = [s for s in end[name]["suspensions"] if s["cause"] == "manual"]
    assert ours and datetime.fromisoformat(ours[0]["at"]) == suspended_at[name]
    assert guillotined_at(end, name) is None
    # ...while the same world without the guard has the guillotine strike it later
    with Sandbox.start(seed=sb.seed, scale=sb.scale) as control:
        control.advance(days=14)
        struck = guillotined_at(control.truth("emboux")["emboux"]["domains"], name)
    assert struck is not None and datetime.fromisoformat(struck) > suspended_at[name]
    # And the pause lasted its cooldown, then the guard resumed its own suspension only
    resumed = {a.domain for r in results for a in r.actions if a.action == "resume"}
    assert name in resumed and end[name]["outbound_status"] == "active"
    assert resumed <= set(suspended_at)
    assert not resumed & left_alone
    for other in left_alone:
        assert end[other]["outbound_status"] == "suspended"
    # And every applied change is audited and every mailbox remembered
    with guard_env.store() as store:
        records = store.guard.mailboxes()
        audited = [c for r in results for c in store.audit.of_run(r.run_id)]
    assert len(records) == len(end)
    assert {c.change.target for c in audited} >= {f"domain:{name}"}
    assert not any(records[n].suspended_by_guard for n in left_alone)


def test_an_unchanged_state_is_not_posted_twice(guard_env):
    sb = guard_env.sandbox
    sb.clear_slack()
    first = run_flow(outbound_guard, as_of=sb.now())
    assert first.ok, first.message
    assert first.result.notification is not None and len(sb.slack_posts()) == 1
    again = run_flow(outbound_guard, as_of=sb.now())
    assert again.ok and again.result.notification is None
    assert len(sb.slack_posts()) == 1


def test_changes_whose_post_was_lost_are_not_posted_again(guard_env):
    # Given a first poll with changes to post, whose Slack answer is lost after Slack got it
    sb = guard_env.sandbox
    sb.clear_slack()
    sb.inject_fault("POST /slack/**", "lost_response", count=1)
    first = run_flow(outbound_guard, as_of=sb.now())
    # Then the run says the post failed and where the message is kept
    assert not first.ok and "the message is kept in" in first.message
    assert len(sb.slack_posts()) == 1
    # And the next poll does not post the same changes again
    again = run_flow(outbound_guard, as_of=sb.now())
    assert again.ok and again.result.notification is None
    assert len(sb.slack_posts()) == 1
    sb.clear_faults()


def test_a_dry_run_remembers_windows_but_changes_nothing(guard_env):
    sb = guard_env.sandbox
    before = {n: r["outbound_status"] for n, r in guard_env.domains().items()}
    outcome = run_flow(outbound_guard, as_of=sb.now() + timedelta(seconds=1), notify=False)
    assert outcome.ok and outcome.result.dry_run is True
    assert {n: r["outbound_status"] for n, r in guard_env.domains().items()} == before
    with guard_env.store() as store:
        records = store.guard.mailboxes()
    assert len(records) == len(before)
    assert not any(r.suspended_by_guard for r in records.values())
    planned = {a.domain for a in outcome.result.actions}
    assert all(before[d] == "active" for d in planned)


def test_a_plan_over_the_cap_is_refused(guard_env, monkeypatch):
    # a misconfigured rule: one unhealthy member pauses its whole group
    monkeypatch.setenv("MAILOPS_GUARD__GROUP_WARNING_PCT", "1")
    monkeypatch.setenv("MAILOPS_GUARD__GROUP_PAUSE_PCT", "1")
    before = {n: r["outbound_status"] for n, r in guard_env.domains().items()}
    outcome = run_flow(outbound_guard, apply=True, max_actions=1,
                       as_of=guard_env.sandbox.now(), notify=False)
    assert not outcome.ok and "more than the cap of 1" in (outcome.message or "")
    assert {n: r["outbound_status"] for n, r in guard_env.domains().items()} == before


def test_the_command_prints_the_dashboard_as_json(guard_env, cli):
    result = CliRunner().invoke(
        cli, ["guard", "--json", "--no-notify", "--as-of", guard_env.sandbox.now().isoformat()]
    )
    payload = json.loads(result.stdout)
    assert result.exit_code == 0, payload
    assert payload["ok"] is True and payload["dry_run"] is True
    assert set(payload["mailboxes"][0]) == {
        "name", "group", "status", "window_sends", "window_bounces", "total_sends",
        "total_bounces", "cooldown_until", "risk"}
    assert set(payload["groups"][0]) == {
        "group", "mailboxes", "unhealthy", "unhealthy_pct", "status", "avg_risk"}
    assert len(payload["mailboxes"]) == len(guard_env.domains())
    for action in payload["actions"]:
        assert set(action) == {"domain", "action", "reason"}


def test_a_rejected_approval_changes_nothing(guard_env, monkeypatch):
    import tasks.approval as module

    async def rejected(job: str, run_id: str, markdown: str, rows: list, **_: object
                       ) -> GateDecision:
        assert job == "outbound-guard" and "| domain | action | reason |" in markdown
        assert rows and {"change", "action", "reason"} <= set(rows[0])
        return answered(False, len(rows), "", "")

    monkeypatch.setattr(module, "request_approval", rejected)
    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", "true")
    monkeypatch.setenv("MAILOPS_GUARD__GROUP_WARNING_PCT", "1")
    monkeypatch.setenv("MAILOPS_GUARD__GROUP_PAUSE_PCT", "1")
    before = {n: r["outbound_status"] for n, r in guard_env.domains().items()}
    outcome = run_flow(outbound_guard, apply=True,
                       as_of=guard_env.sandbox.now(), notify=False)
    assert outcome.state == "Rejected" and outcome.result.dry_run
    assert {n: r["outbound_status"] for n, r in guard_env.domains().items()} == before
