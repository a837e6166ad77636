"""contact-undo: each contact back to its old state, unless a person changed it since."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.contact_cleanup import contact_cleanup
from flows.contact_undo import contact_undo
from flows.run import run_flow
from mailops.contacts import UNDO_JOB, parse_target

pytestmark = pytest.mark.usefixtures("prefect_harness")


def applied_run(env) -> tuple[str, dict[str, str]]:
    """Apply a cleanup; its run id and the states it set (uuid -> state)."""
    outcome = run_flow(contact_cleanup, as_of=env.sandbox.now(), apply=True, notify=False)
    assert outcome.ok, outcome.message
    run_id = outcome.result.run_id
    with env.store() as store:
        return run_id, {parse_target(s.change.target)[1]: s.change.new_value
                        for s in store.plans.of_run(run_id)}


def test_undo_restores_every_state_and_audits_it(contacts_env):
    before = contacts_env.states()
    run_id, changed = applied_run(contacts_env)
    assert changed and contacts_env.states() != before
    outcome = run_flow(contact_undo, run_id=run_id)
    assert outcome.ok, outcome.message
    assert outcome.result.reverted == len(changed)
    assert contacts_env.states() == before
    with contacts_env.store() as store:
        audits = store.audit.of_run(outcome.result.run_id)
    assert len(audits) == len(changed)
    assert all(a.job == UNDO_JOB and a.change.new_value == "unset"
               and a.change.reason.startswith(f"undo of run {run_id}") for a in audits)


def test_a_contact_changed_by_hand_since_keeps_the_persons_decision(contacts_env):
    run_id, changed = applied_run(contacts_env)
    blocked = next(u for u, state in changed.items() if state == "blocked")
    contacts_env.set_state(blocked, "whitelisted")
    outcome = run_flow(contact_undo, run_id=run_id)
    assert outcome.ok, outcome.message
    states = contacts_env.states()
    assert states[blocked] == "whitelisted"
    assert [item.uuid for item in outcome.result.left_alone] == [blocked]
    assert outcome.result.reverted == len(changed) - 1
    assert all(states[u] == "unset" for u in changed if u != blocked)


def test_undoing_twice_changes_nothing_more(contacts_env, cli):
    run_id, changed = applied_run(contacts_env)
    first = CliRunner().invoke(cli, ["contacts", "undo", run_id, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["reverted"] == len(changed)
    after_first = contacts_env.states()
    second = CliRunner().invoke(cli, ["contacts", "undo", run_id, "--json"])
    body = json.loads(second.stdout)
    assert second.exit_code == 0 and body["reverted"] == 0
    assert body["already_reverted"] == len(changed) and body["left_alone"] == []
    assert contacts_env.states() == after_first


def test_an_unknown_run_is_refused(contacts_env, cli):
    answer = CliRunner().invoke(cli, ["contacts", "undo", "no-such-run"])
    assert answer.exit_code == 2
    assert "no stored plan of contact-cleanup" in answer.stderr
