"""contact-undo: revert every change one contact-cleanup run made.

Each contact goes back to its old state only while it still has the state the run set: a
person's later decision wins. The reverts are stored and applied through the gate, so each
is audited (job contact-undo) and a re-run of the undo finishes what a failure left.
"""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger
from prefect.states import Failed, State

import tasks.contacts as contact_tasks
from flows.ending import stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.contacts import JOB, UNDO_JOB, ContactUndoResult
from mailops.errors import MailopsError
from tasks.approval import require_stored_plan
from tasks.context import current_run_id


@run_form
@flow(name=jobs.CONTACT_UNDO, log_prints=False)
async def contact_undo(run_id: str, undo_run_id: str | None = None) -> ContactUndoResult | State:
    """Revert the applied changes of one contact-cleanup run.

    Args:
        run_id: The contact-cleanup run whose changes to revert.
        undo_run_id: Finish this earlier undo of it; by default a new undo (this run's id).
    """
    logger = get_run_logger()
    try:
        require_stored_plan(JOB, run_id, option="RUN_ID")
        if undo_run_id:
            require_stored_plan(UNDO_JOB, undo_run_id)
        result = await contact_tasks.undo_cleanup(run_id, undo_run_id or current_run_id())
    except MailopsError as exc:
        logger.error("contact-undo stopped: %s", exc)
        return Failed(message=stopped(exc))
    logger.info(
        "contact-undo of %s: %d reverted, %d left alone (changed since), %d missing, "
        "%d failed", run_id, result.reverted, len(result.left_alone),
        len(result.missing), len(result.failed),
    )
    if result.failed:
        message = (
            f"{len(result.failed)} reverts failed; finish with: mailops contacts undo "
            f"{run_id} --resume {result.run_id}"
        )
        return Failed(message=message, data=result)
    return result


if __name__ == "__main__":
    import sys

    asyncio.run(contact_undo(sys.argv[1]))
