"""Approval in the Prefect UI before a gated flow changes anything.

Called from a flow, not a task: `pause_flow_run` only pauses flows (PrefectHQ/prefect#19435).
"""

from __future__ import annotations

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment

from mailops.gate import check_stored_plan, refusal_over_cap
from mailops.store import Store
from tasks.context import current_settings


class Approval(RunInput):
    """The form behind the Resume button: approve the plan shown above it, or not."""

    approve: bool = False
    note: str = ""


def approval_required() -> bool:
    """Whether applying must first be approved by a person in the Prefect UI.

    Always under a deployment: a scheduled or UI-started run has nobody at a terminal, and no
    parameter can turn that off. A run started from the command line is approved by its own
    `--apply`, unless `[approval] always` asks for the UI's approval there too.
    """
    return deployment.id is not None or current_settings().approval.always


async def request_approval(plan_markdown: str) -> tuple[bool, str]:
    """Pause until someone approves or rejects the plan; no answer within `[approval]
    timeout_seconds` means no."""
    settings = current_settings().approval
    try:
        answer = await pause_flow_run(
            wait_for_input=Approval.with_initial_data(description=plan_markdown),
            timeout=settings.timeout_seconds,
            poll_interval=settings.poll_seconds,
        )
    except FlowPauseTimeout:
        return False, f"no approval within {settings.timeout_seconds} s: nothing was changed"
    if answer is None or not answer.approve:
        note = f" ({answer.note})" if answer is not None and answer.note else ""
        return False, f"the plan was rejected in the Prefect UI{note}: nothing was changed"
    return True, answer.note


async def gate_refusal(planned: int, cap: int, *, plan_markdown: str) -> str | None:
    """Why a plan of `planned` changes may not be applied, or None: over the cap, or not
    approved (asked only when approval is required and there is something to change)."""
    refusal = refusal_over_cap(planned, cap)
    if refusal is None and planned and approval_required():
        approved, note = await request_approval(plan_markdown)
        refusal = None if approved else note
    return refusal


def require_stored_plan(job: str, run_id: str, *, option: str = "--resume") -> None:
    """Refuse, before anything is planned or applied, a run id naming no stored plan of
    `job` (`UnknownPlanError`). A plain function, not a task: a refusal is an expected
    failure, and a failed task would log a traceback."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        check_stored_plan(store, run_id, job, option=option)
