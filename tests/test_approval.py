"""Approval in the Prefect UI: a paused flow goes on only when a person approves."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from tasks.approval import approval_required, request_approval

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(autouse=True)
def quick_approval(monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer looked for every second, for at most 30 s."""
    monkeypatch.setenv("MAILOPS_APPROVAL__POLL_SECONDS", "1")
    monkeypatch.setenv("MAILOPS_APPROVAL__TIMEOUT_SECONDS", "30")


@flow
async def gated_job() -> tuple[bool, str]:
    return await request_approval("## 3 contacts to block")


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
    approved, note = asyncio.run(gated_job())
    watcher.join(timeout=30)
    assert seen and approved and note == "checked"


def test_a_rejected_plan_changes_nothing_and_says_so():
    seen: list = []
    watcher = answer_when_paused({"approve": False, "note": "too many"}, seen)
    approved, note = asyncio.run(gated_job())
    watcher.join(timeout=30)
    assert not approved and "rejected in the Prefect UI (too many)" in note


def test_no_answer_before_the_timeout_means_no(monkeypatch):
    monkeypatch.setenv("MAILOPS_APPROVAL__TIMEOUT_SECONDS", "2")
    approved, note = asyncio.run(gated_job())
    assert not approved and "no approval within 2 s" in note


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
