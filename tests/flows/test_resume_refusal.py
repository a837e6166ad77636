"""`--resume` names a stored plan of the same job, or nothing is planned or applied.

Issue 18 saw `--apply --resume <typo>` apply a fresh plan nobody reviewed. Every gated
command now refuses, in one line and exit code 2 (bad input), a run id with no stored plan
and a run id of another job's plan; the flows refuse the same (a run from the Prefect UI).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flows.contact_cleanup import contact_cleanup, resume_contact_cleanup
from flows.resume import Resume
from flows.run import run_flow
from mailops.contacts import JOB as CLEANUP_JOB
from mailops.contacts import parse_target
from mailops.quarantine import JOB as QUARANTINE_JOB
from mailops.store import PlannedChange

pytestmark = pytest.mark.usefixtures("prefect_harness")


def store_foreign_plan(env, run_id: str, job: str) -> None:
    """A plan of `job` stored under `run_id`, as that job's dry run would leave it."""
    with env.store() as store:
        store.upgrade()
        store.plans.save(run_id, job, [PlannedChange(
            "quarantine:acme:0000", "someone@example.com", "status", "quarantined",
            "released", "accept", "whitelisted sender")])


def bad_resume_id(env, kind: str, foreign_job: str) -> str:
    """A resume id with no stored plan ("unknown"), or that of a plan of `foreign_job`."""
    if kind == "unknown":
        return "no-such-run"
    store_foreign_plan(env, "a-foreign-run", foreign_job)
    return "a-foreign-run"


def refusal_of(kind: str, job: str, foreign_job: str) -> str:
    """What the refusal of `bad_resume_id(env, kind, foreign_job)` for `job` says."""
    if kind == "unknown":
        return f"no stored plan of {job}"
    return f"is a plan of {foreign_job}, not of {job}"


def audit_rows(env) -> int:
    with env.store() as store:
        store.upgrade()
        return len(store.every_row()["audit_log"])


def refused(answer, fragment: str) -> None:
    """One line on stderr naming the problem, exit code 2, no traceback."""
    assert answer.exit_code == 2, answer.output
    assert fragment in answer.stderr and "nothing was applied" in answer.stderr
    assert len(answer.stderr.strip().splitlines()) == 1
    assert "Traceback" not in answer.output


@pytest.mark.parametrize("kind", ["unknown", "other job"])
def test_contact_cleanup_apply_with_a_bad_resume_id_changes_no_contact(contacts_env, cli, kind):
    # Given a resume id that is unknown, or the id of a quarantine-accept plan
    run_id = bad_resume_id(contacts_env, kind, QUARANTINE_JOB)
    before = contacts_env.states()
    # When contact-cleanup is applied with it
    answer = CliRunner().invoke(cli, ["contacts", "cleanup", "--apply", "--resume", run_id,
                                      "--no-notify"])
    # Then it is refused, and every contact keeps its state, nothing audited
    refused(answer, refusal_of(kind, CLEANUP_JOB, QUARANTINE_JOB))
    assert contacts_env.states() == before
    assert audit_rows(contacts_env) == 0


def test_the_resume_flow_refuses_an_unknown_resume_id_itself(contacts_env):
    # Given no plan stored under the id (a flow run that never passed the command's check)
    before = contacts_env.states()
    # When the resume flow is applied with it
    resume = Resume(run_id="typo", notify=False, as_of=contacts_env.sandbox.now())
    outcome = run_flow(resume_contact_cleanup, resume=resume)
    # Then the run failed naming it, and nothing changed
    assert not outcome.ok and not outcome.unexpected
    assert "--resume 'typo': no stored plan of contact-cleanup" in outcome.message
    assert contacts_env.states() == before


def test_contact_cleanup_apply_resumes_the_stored_plan_of_its_dry_run(contacts_env, cli):
    # Given a dry run's plan
    dry = run_flow(contact_cleanup, notify=False, as_of=contacts_env.sandbox.now())
    assert dry.ok and dry.result.actions_total > 0
    # When it is applied by its id through the command
    answer = CliRunner().invoke(cli, ["contacts", "cleanup", "--apply", "--resume",
                                      dry.result.run_id, "--no-notify"])
    # Then exactly that plan was applied
    assert answer.exit_code == 0, answer.output
    assert audit_rows(contacts_env) == dry.result.actions_total


@pytest.mark.parametrize("kind", ["unknown", "other job"])
def test_quarantine_accept_apply_with_a_bad_resume_id_releases_nothing(quarantine_env, cli, kind):
    # Given whitelisted mail above the threshold, and a resume id that is unknown or a
    # contact-cleanup plan's
    quarantine_env.whitelist("boss@partner.com")
    quarantine_env.quarantine("boss@partner.com")
    sandbox = quarantine_env.start()
    rule = sandbox.inject_fault("POST /cleanbox/v1/quarantine/accept", "latency",
                                latency_ms=0)["id"]
    run_id = bad_resume_id(quarantine_env, kind, CLEANUP_JOB)
    held = quarantine_env.held()
    # When quarantine-accept is applied with it
    answer = CliRunner().invoke(cli, ["quarantine", "accept", "--apply", "--resume", run_id,
                                      "--no-notify"])
    # Then it is refused; no accept was sent, the quarantine holds what it held
    refused(answer, refusal_of(kind, QUARANTINE_JOB, CLEANUP_JOB))
    assert next(r["matched"] for r in sandbox.faults() if r["id"] == rule) == 0
    assert quarantine_env.held() == held
    assert audit_rows(quarantine_env) == 0


def test_contact_undo_refuses_another_jobs_run_and_an_unknown_undo_id(contacts_env, cli):
    # Given an applied cleanup run and a quarantine-accept plan
    applied = run_flow(contact_cleanup, apply=True, notify=False,
                       as_of=contacts_env.sandbox.now())
    assert applied.ok, applied.message
    run_id = applied.result.run_id
    store_foreign_plan(contacts_env, "a-quarantine-run", QUARANTINE_JOB)
    after_cleanup, audited = contacts_env.states(), audit_rows(contacts_env)
    with contacts_env.store() as store:
        changed = {parse_target(s.change.target)[1] for s in store.plans.of_run(run_id)}
    assert changed
    # When the undo names the quarantine plan, or resumes an undo that never ran
    other = CliRunner().invoke(cli, ["contacts", "undo", "a-quarantine-run"])
    typo = CliRunner().invoke(cli, ["contacts", "undo", run_id, "--resume", "typo"])
    # Then both are refused and every contact keeps the state the cleanup set
    refused(other, "is a plan of quarantine-accept, not of contact-cleanup")
    refused(typo, "--resume 'typo': no stored plan of contact-undo")
    assert contacts_env.states() == after_cleanup
    assert audit_rows(contacts_env) == audited
