"""Approval in the Prefect UI before a gated flow changes anything.

Called from a flow, not a task: `pause_flow_run` only pauses flows (PrefectHQ/prefect#19435).
The plan is the paused run's table artifact `<job>-approval` (the Resume dialog alone is not
on the run's page), linked from the dialog and from a log line saying how to answer.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment
from prefect.settings import PREFECT_UI_URL
from pydantic import Field

from mailops.gate import approval_audit, check_stored_plan, refusal_over_cap
from mailops.report.escape import visible_values
from mailops.store import Store
from tasks.context import current_run_id, current_settings

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
) -> tuple[bool, str]:
    """Show the plan as the run's artifact, say in the log how to answer, then pause until
    someone approves or rejects it; no answer within `[approval] timeout_seconds` means no.
    The answer (note, time, who) is audited under the plan's `run_id`.

    `rows` are the plan's changes (at most PLAN_ROWS_SHOWN of them), `total` how many it holds.
    Returns whether it was approved, and the note, or why nothing may change.
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
    try:
        answer = await pause_flow_run(
            wait_for_input=Approval.with_initial_data(description=(
                f"{plan_markdown}\n\nThe plan change by change ({shown}): {where}.\n\n"
                "Switch **Approve** on to apply it; submitted with Approve off, nothing "
                "changes.")),
            timeout=settings.timeout_seconds,
            poll_interval=settings.poll_seconds,
        )
    except FlowPauseTimeout:
        _record_decision(job, run_id, "expired", Approval())
        return False, f"no approval within {settings.timeout_seconds} s: nothing was changed"
    answer = answer or Approval()
    _record_decision(job, run_id, "approved" if answer.approve else "rejected", answer)
    if not answer.approve:
        note = f" ({answer.note})" if answer.note else ""
        return False, f"the plan was rejected in the Prefect UI{note}: nothing was changed"
    return True, answer.note


def _record_decision(job: str, run_id: str, decision: str, answer: Approval) -> None:
    """Audit the answer before anything is applied (a StoreError stops the run), and log it."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        store.record_changes(run_id, job, [approval_audit(
            run_id, decision, answer.note, answer.approver, current_run_id())])
    who = f" by {answer.approver}" if answer.approver else ""
    get_run_logger().info("%s plan %s %s%s: %s", job, run_id, decision, who,
                          answer.note or "no note")


async def gate_refusal(
    planned: int, cap: int, *, job: str, run_id: str, plan_markdown: str
) -> str | None:
    """Why a plan of `planned` changes may not be applied, or None: over the cap, or not
    approved (asked only when approval is required and there is something to change; the
    approver reads the plan stored under `run_id`)."""
    refusal = refusal_over_cap(planned, cap)
    if refusal is None and planned and approval_required():
        rows = stored_plan_rows(run_id)
        approved, note = await request_approval(job, run_id, plan_markdown, rows, total=planned)
        refusal = None if approved else note
    return refusal


def stored_plan_rows(run_id: str) -> list[dict[str, Any]]:
    """The first PLAN_ROWS_SHOWN changes of a run's stored plan, as the approver reads them."""
    with Store(current_settings().database_url) as store:
        return [
            {"change": s.change.label, "action": s.change.action, "from": s.change.old_value,
             "to": s.change.new_value, "reason": s.change.reason}
            for s in store.plan_of_run(run_id)[:PLAN_ROWS_SHOWN]
        ]


def require_stored_plan(job: str, run_id: str, *, option: str = "--resume") -> None:
    """Refuse, before anything is planned or applied, a run id naming no stored plan of
    `job` (`UnknownPlanError`). A plain function, not a task: a refusal is an expected
    failure, and a failed task would log a traceback."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        check_stored_plan(store, run_id, job, option=option)
