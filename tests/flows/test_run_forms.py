"""Every deployment's Run form: each field described, no internal knob, no way around approval.

The Prefect UI builds a deployment's Run form (and the API's `create_flow_run` accepts the
parameters) from its flow's parameter schema; the schema is read here as Prefect reads it.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError, SignatureMismatchError
from prefect.utilities.callables import parameter_schema

from deployments import JOBS, Job
from deployments.build import job_flow
from flows.contact_cleanup import contact_cleanup
from flows.run import run_flow
from mailops.gate import Verdict
from tasks.approval import PLAN_ROWS_SHOWN, approval_required, gate

# How the machinery waits, pages and polls: settings, never a field of the form.
INTERNAL_KNOBS = {
    "approval_timeout_seconds", "approval_poll_seconds", "require_approval", "approve",
    "per_page", "page_size", "batch_size", "concurrency", "deployment", "poll_seconds",
    "poll_interval", "shard_timeout_seconds", "timeout_seconds",
    "resume_run_id",  # a run id is typed at a terminal (--resume), by its own flow
}
# Fields whose default is the clock or a setting, so that no constant default fits.
DEFAULT_FROM_CLOCK_OR_SETTINGS = {"as_of", "day", "max_actions", "threshold", "max_spam_score"}
REQUIRED_INPUTS = {"domain-onboarding": {"name"}}  # what a person types for an on-demand job
DEPLOYMENT_ID = "PREFECT__RUNTIME__DEPLOYMENT__ID"  # how prefect.runtime's values are faked
JOB_IDS = [job.name for job in JOBS]


def form(job: Job) -> dict[str, Any]:
    """The parameter schema of a job's deployment, as `mailops serve` and `prefect deploy`
    build it from the flow (and the Run form gets it)."""
    return parameter_schema(job_flow(job)).model_dump_for_openapi()


def nullable(field: dict[str, Any]) -> bool:
    return any(choice.get("type") == "null" for choice in field.get("anyOf", []))


@pytest.mark.parametrize("job", JOBS, ids=JOB_IDS)
def test_given_a_deployment_when_its_run_form_is_built_then_every_field_is_described(job):
    fields = form(job)["properties"]
    assert fields, f"{job.name} has no Run form"
    assert [name for name, field in fields.items()
            if not field.get("description", "").strip()] == []


@pytest.mark.parametrize("job", JOBS, ids=JOB_IDS)
def test_given_a_deployment_when_its_run_form_is_built_then_no_field_is_an_internal_knob(job):
    names = set(form(job)["properties"])
    assert names & INTERNAL_KNOBS == set()
    assert [name for name in names
            if "approv" in name or "poll" in name or name.endswith("_seconds")] == []


@pytest.mark.parametrize("job", JOBS, ids=JOB_IDS)
def test_given_a_deployment_when_its_run_form_is_built_then_each_field_has_a_real_default(job):
    schema = form(job)
    assert set(schema.get("required", [])) == REQUIRED_INPUTS.get(job.name, set())
    fields = schema["properties"]
    # a default from the clock or a setting is an empty field of its own type (the form
    # leaves it out): no None to choose, no `"default": null` sent by an untouched form
    assert [name for name, field in fields.items()
            if nullable(field) or "type" not in field] == []
    assert {name for name, field in fields.items() if "default" not in field} <= (
        DEFAULT_FROM_CLOCK_OR_SETTINGS | REQUIRED_INPUTS.get(job.name, set()))
    assert [name for name, field in fields.items()
            if "default" in field and field["default"] is None] == []


@pytest.mark.usefixtures("prefect_harness")
def test_given_an_optional_field_left_empty_when_the_run_starts_then_the_flow_default_holds():
    from prefect import flow

    from flows.run_form import run_form

    @run_form
    @flow
    def cap_and_clock(cap: int | None = None, as_of: datetime | None = None,
                      name: str = "x") -> tuple[int | None, datetime | None]:
        return cap, as_of

    # Given the form's schema: typed fields with no default, none required
    schema = parameter_schema(cap_and_clock).model_dump_for_openapi()
    assert schema["properties"]["cap"]["type"] == "integer" and not schema.get("required")
    # When runs get the fields left out, or given, or None (the CLI's way)
    at = datetime(2026, 12, 3, 6, tzinfo=UTC)
    # Then the flow gets its own default, the value, or None
    assert cap_and_clock() == (None, None)
    assert cap_and_clock(cap=7, as_of=at) == (7, at)
    assert cap_and_clock(cap=None, as_of=None) == (None, None)
    with pytest.raises(ParameterTypeError):
        cap_and_clock.validate_parameters({"cap": "many"})


@pytest.mark.parametrize("bypass", [{"require_approval": False}, {"approve": False}])
def test_given_the_old_bypass_parameters_when_a_run_is_created_with_them_then_it_is_refused(
    bypass,
):
    with pytest.raises((ParameterTypeError, SignatureMismatchError)):
        contact_cleanup.validate_parameters({"apply": True, **bypass})


def test_given_any_parameters_when_approval_is_decided_then_none_of_them_is_consulted():
    # The decision takes nothing from the run's parameters, and the gate no flag that could
    # turn it off: only the plan's size, the cap, whether to apply at all (off is a dry run,
    # decided before anything is asked) and what the approver reads.
    assert inspect.signature(approval_required).parameters == {}
    assert set(inspect.signature(gate).parameters) == {
        "planned", "cap", "apply", "job", "run_id", "plan_markdown"}
    not_asked = asyncio.run(gate(5, 100, apply=False, job="j", run_id="r", plan_markdown=""))
    assert not_asked.verdict is Verdict.DRY_RUN and not not_asked.applies


@pytest.mark.parametrize("always", ["true", "false"])
def test_given_a_deployment_run_when_approval_is_decided_then_it_is_required_whatever_is_set(
    monkeypatch, always
):
    monkeypatch.setenv(DEPLOYMENT_ID, "5d3c8a8e-2b7e-4c1f-9f4e-1d2a3b4c5d6e")
    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", always)
    assert approval_required()


@pytest.mark.usefixtures("prefect_harness")
def test_given_a_deployment_run_when_cleanup_is_applied_then_it_waits_for_a_person(
    contacts_env, monkeypatch
):
    from test_approval import answer_when_paused, approval_artifact

    # Given a run under a deployment (nothing else asks for approval), with changes to make
    monkeypatch.setenv(DEPLOYMENT_ID, "5d3c8a8e-2b7e-4c1f-9f4e-1d2a3b4c5d6e")
    monkeypatch.setenv("MAILOPS_APPROVAL__POLL_SECONDS", "1")
    before = contacts_env.states()
    seen: list = []
    watcher = answer_when_paused({"approve": False, "note": "not this week"}, seen)
    # When it is started with apply=True, every other field at its default
    outcome = run_flow(contact_cleanup, apply=True, as_of=contacts_env.sandbox.now(),
                       notify=False)
    watcher.join(timeout=30)
    # Then it paused for a person, who rejected it: no contact changed, the refusal is said
    assert seen, "the run never paused"
    assert outcome.result.actions_total > 0
    assert "rejected in the Prefect UI (not this week)" in outcome.result.refused
    assert outcome.state == "Rejected" and outcome.ok
    assert sum(outcome.result.applied.values()) == 0
    assert contacts_env.states() == before
    # ...having read the plan that was stored, as the paused run's artifact
    shown = approval_artifact(seen[0], "contact-cleanup-approval")
    assert len(shown) == min(outcome.result.actions_total, PLAN_ROWS_SHOWN)
    # ...and the rejection, with its note, is audited with the plan
    with contacts_env.store() as store:
        [decision] = [a.change for a in store.audit.of_run(outcome.result.run_id)
                      if a.change.field == "approval"]
    assert (decision.new_value, decision.reason) == ("rejected", "not this week")
