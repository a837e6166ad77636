"""Approval in the Prefect UI: a paused flow goes on only when a person approves."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from mailops.gate import GateDecision, Verdict
from mailops.settings import load_settings
from mailops.store import Store
from tasks.approval import approval_required, request_approval

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(autouse=True)
def quick_approval(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The answer looked for every second, for at most 30 s; a store of the test's own."""
    monkeypatch.setenv("MAILOPS_APPROVAL__POLL_SECONDS", "1")
    monkeypatch.setenv("MAILOPS_APPROVAL__TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("MAILOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'mailops.db'}")


PLAN = [{"change": f"spam{i}@junk.xyz", "action": "block", "from": "unset", "to": "blocked",
         "reason": "junk TLD .xyz"} for i in range(3)]


PLAN_RUN = "plan-run-1"  # the run whose stored plan is approved


@flow
async def gated_job() -> GateDecision:
    return await request_approval("contact-cleanup", PLAN_RUN, "## 3 contacts to block", PLAN)


def decisions() -> list[tuple[str, str | None, str, str | None]]:
    """The audited answers to PLAN_RUN's plan: (target, decision, note, who)."""
    with Store(load_settings().database_url) as store:
        return [(a.change.target, a.change.new_value, a.change.reason, a.change.label)
                for a in store.audit.of_run(PLAN_RUN) if a.change.field == "approval"]


def approval_artifact(run_id: Any, key: str) -> list[dict[str, Any]]:
    """The rows of the approval artifact `key` of one flow run (an error when there is none)."""

    async def read() -> list[dict[str, Any]]:
        async with get_client() as client:
            [artifact] = await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
        return json.loads(artifact.data)

    return asyncio.run(read())


def answer_when_paused(run_input: dict, seen: list, within_seconds: float = 60) -> threading.Thread:
    """Resume the first paused flow run with `run_input`, from another thread.

    It asks the server for paused runs only: the session's harness holds hundreds of runs and
    an unfiltered read returns one page of them in id order, which can leave the paused one out.
    """

    async def watch() -> None:
        paused_only = FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
        deadline = time.monotonic() + within_seconds
        async with get_client() as client:
            while time.monotonic() < deadline:
                paused = await client.read_flow_runs(flow_run_filter=paused_only, limit=1)
                if paused:
                    seen.append(paused[0].id)
                    await resume_flow_run(paused[0].id, run_input=run_input)
                    return
                await asyncio.sleep(0.1)

    thread = threading.Thread(target=lambda: asyncio.run(watch()), daemon=True)
    thread.start()
    return thread


def test_an_approved_plan_goes_on():
    seen: list = []
    watcher = answer_when_paused({"approve": True, "note": "checked"}, seen)
    decision = asyncio.run(gated_job())
    watcher.join(timeout=30)
    assert seen and decision.applies and decision.verdict is Verdict.APPLIED
    assert decision.reason == "3 change(s) approved in the Prefect UI: checked"


def test_given_an_answer_when_a_person_approves_then_the_note_and_who_are_audited_with_the_plan():
    # Given a plan waiting for approval, when a person approves it with a note and a name
    seen: list = []
    watcher = answer_when_paused(
        {"approve": True, "note": "looked at the top 20", "approver": "ops-anna"}, seen)
    asyncio.run(gated_job())
    watcher.join(timeout=30)
    # Then the audit log holds the decision under the plan's run, naming the asking run
    [(target, decision, reason, who)] = decisions()
    assert (target, decision, who) == (f"plan:{PLAN_RUN}", "approved", "ops-anna")
    assert reason == f"looked at the top 20 (asked in flow run {seen[0]})"


def test_given_a_paused_run_when_it_is_opened_then_it_shows_the_plan_and_what_to_do(caplog):
    # Given a plan waiting for approval
    seen: list = []
    watcher = answer_when_paused({"approve": False}, seen)
    # When the run pauses (and is answered)
    with caplog.at_level("INFO", logger="prefect.flow_runs"):
        asyncio.run(gated_job())
    watcher.join(timeout=30)
    # Then the paused run holds the plan as its table artifact, change by change
    assert approval_artifact(seen[0], "contact-cleanup-approval") == PLAN
    # ...and its log names the artifact and the answer to give
    [line] = [r.getMessage() for r in caplog.records if "waiting for approval" in r.getMessage()]
    assert "contact-cleanup-approval" in line and "Resume" in line and "Approve on" in line


def test_a_rejected_plan_changes_nothing_and_says_so():
    seen: list = []
    watcher = answer_when_paused({"approve": False, "note": "too many"}, seen)
    decision = asyncio.run(gated_job())
    watcher.join(timeout=30)
    assert decision.verdict is Verdict.REJECTED and not decision.applies
    assert "rejected in the Prefect UI (too many)" in (decision.refusal or "")
    assert [d[1:] for d in decisions()] == [
        ("rejected", f"too many (asked in flow run {seen[0]})", "(name not given)")]


def test_no_answer_before_the_timeout_means_no(monkeypatch):
    monkeypatch.setenv("MAILOPS_APPROVAL__TIMEOUT_SECONDS", "2")
    decision = asyncio.run(gated_job())
    assert decision.verdict is Verdict.EXPIRED and "no approval within 2 s" in decision.reason
    assert [d[1] for d in decisions()] == ["expired"]


DEPLOYMENT_ID = "PREFECT__RUNTIME__DEPLOYMENT__ID"  # how prefect.runtime is faked


def test_given_a_command_line_run_when_nothing_asks_then_its_apply_is_the_approval():
    assert not approval_required()


def test_given_a_deployment_run_when_the_setting_is_off_then_approval_is_still_required(
    monkeypatch,
):
    monkeypatch.setenv(DEPLOYMENT_ID, "0b6f3c1e-5f1d-4a51-9a8e-3d0e6f7a2b10")
    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", "false")
    assert approval_required()


def test_given_the_always_setting_when_run_from_the_command_line_then_approval_is_required(
    monkeypatch,
):
    monkeypatch.setenv("MAILOPS_APPROVAL__ALWAYS", "true")
    assert approval_required()
