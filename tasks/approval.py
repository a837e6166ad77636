"""Approval in the Prefect UI before a gated flow changes anything.

Called from a flow, not a task: `pause_flow_run` only pauses flows (PrefectHQ/prefect#19435).
The plan is the paused run's table artifact `<job>-approval` (the Resume dialog alone is not
on the run's page), linked from the dialog and from a log line saying how to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment
from prefect.settings import PREFECT_UI_URL
from pydantic import Field

from mailops.gate import (
    GateDecision,
    answered,
    approval_audit,
    check_stored_plan,
    decide_without_asking,
    dry_run,
    expired,
)
from mailops.report.escape import visible_values
from mailops.store import Store
from tasks.context import current_run_id, current_settings

PAUSE_GRACE_SECONDS = 60  # Prefect's pause outlasts mailops' wait by this much
PLAN_ROWS_SHOWN = 500  # changes listed in the approval artifact; the store holds them all


class Approval(RunInput):
    """The form behind the Resume button: approve the plan shown above it, or not."""

    approve: bool = Field(False, description="On applies the plan; off changes nothing.")
    note: str = Field("", description="Why: kept with the decision in the audit log.")
    approver: str = Field(
        "", description="Who decides (Prefect's server does not record who resumed a run)."
    )


def approval_required() -> bool:
    """Whether applying must first be approved by a person in the Prefect UI.

    Always under a deployment: a scheduled or UI-started run has nobody at a terminal, and no
    parameter can turn that off. A run started from the command line is approved by its own
    `--apply`, unless `[approval] always` asks for the UI's approval there too.
    """
    return deployment.id is not None or current_settings().approval.always


async def request_approval(
    job: str,
    run_id: str,
    plan_markdown: str,
    rows: list[dict[str, Any]],
    total: int | None = None,
) -> GateDecision:
    """Show the plan as the run's artifact, say in the log how to answer, then pause until
    someone approves or rejects it; no answer within `[approval] timeout_seconds` means no.
    The answer (note, time, who) is audited under the plan's `run_id`.

    `rows` are the plan's changes (at most PLAN_ROWS_SHOWN of them), `total` how many it holds.
    Returns the decision: applied (approved), rejected or expired, with who and the note.
    """
    settings = current_settings().approval
    key = f"{job}-approval"
    total = len(rows) if total is None else total
    shown = f"all {total} changes" if total <= len(rows) else f"the first {len(rows)} of {total}"
    artifact_id = await acreate_table_artifact(
        key=key, table=visible_values(rows or [{"change": "(none)"}]),
        description=f"The {job} plan waiting for approval: {shown}",
    )
    ui = PREFECT_UI_URL.value()
    url = f"{ui.rstrip('/')}/artifacts/artifact/{artifact_id}" if ui else None
    get_run_logger().info(
        "%s is waiting for approval: read the plan in the artifact %s (%s), then press Resume "
        "on this run and switch Approve on to apply it (off changes nothing); no answer "
        "within %d s changes nothing", job, key, url or "the run's Artifacts tab",
        settings.timeout_seconds,
    )
    where = f"[{key}]({url})" if url else f"`{key}` (the run's Artifacts tab)"
    # The pause itself lasts a little longer than mailops waits: once Prefect's own pause
    # timeout passes, its server fails the run with its own message and refuses any other
    # end, so mailops ends the wait first and then takes the run out of its pause itself.
    pause = pause_flow_run(
        wait_for_input=Approval.with_initial_data(description=(
            f"{plan_markdown}\n\nThe plan change by change ({shown}): {where}.\n\n"
            "Switch **Approve** on to apply it; submitted with Approve off, nothing "
            "changes.")),
        timeout=settings.timeout_seconds + PAUSE_GRACE_SECONDS,
        poll_interval=settings.poll_seconds,
    )
    try:
        answer = await asyncio.wait_for(pause, settings.timeout_seconds)
    except (TimeoutError, FlowPauseTimeout):
        await _end_pause()
        _record_decision(job, run_id, "expired", Approval())
        return expired(settings.timeout_seconds)
    answer = answer or Approval()
    _record_decision(job, run_id, "approved" if answer.approve else "rejected", answer)
    return answered(answer.approve, total, answer.note, answer.approver)


async def _end_pause() -> None:
    """Take this flow run out of its pause with no answer (the form's defaults: no), so it
    can end under its own state; a person who answered at the deadline is ignored."""
    async with get_client() as client:
        with contextlib.suppress(Exception):  # already resumed, or the pause already ended
            await client.resume_flow_run(UUID(current_run_id()),
                                        run_input=Approval().model_dump())


def _record_decision(job: str, run_id: str, decision: str, answer: Approval) -> None:
    """Audit the answer before anything is applied (a StoreError stops the run), and log it."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        store.audit.record(run_id, job, [approval_audit(
            run_id, decision, answer.note, answer.approver, current_run_id())])
    who = f" by {answer.approver}" if answer.approver else ""
    get_run_logger().info("%s plan %s %s%s: %s", job, run_id, decision, who,
                          answer.note or "no note")


async def gate(
    planned: int, cap: int, *, apply: bool, job: str, run_id: str, plan_markdown: str
) -> GateDecision:
    """Whether a plan of `planned` changes may be applied, and why: a dry run (not asked to
    `apply`), nothing to change, over the cap, approved by the terminal's `--apply`, or a
    person's answer in the Prefect UI (asked only when approval is required; the approver
    reads the plan stored under `run_id`)."""
    if not apply:
        return dry_run(planned)
    decision = decide_without_asking(planned, cap, approval_required=approval_required())
    if decision is None:
        rows = stored_plan_rows(run_id)
        decision = await request_approval(job, run_id, plan_markdown, rows, total=planned)
    return decision


def stored_plan_rows(run_id: str) -> list[dict[str, Any]]:
    """The first PLAN_ROWS_SHOWN changes of a run's stored plan, as the approver reads them."""
    with Store(current_settings().database_url) as store:
        return [
            {"change": s.change.label, "action": s.change.action, "from": s.change.old_value,
             "to": s.change.new_value, "reason": s.change.reason}
            for s in store.plans.of_run(run_id)[:PLAN_ROWS_SHOWN]
        ]


def require_stored_plan(job: str, run_id: str, *, option: str = "--resume") -> None:
    """Refuse, before anything is planned or applied, a run id naming no stored plan of
    `job` (`UnknownPlanError`). A plain function, not a task: a refusal is an expected
    failure, and a failed task would log a traceback."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        check_stored_plan(store, run_id, job, option=option)
