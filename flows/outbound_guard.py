"""outbound-guard: the bounce monitor over EmBoux sending domains, every 15 minutes.

The rules, their numbers and their code: docs/outbound-guard.md.

Reads every domain's counters, feeds the engine the change since the last poll, remembers
every window and status, and plans suspends and resumes. Dry run by default; applying goes
through the gate (the cap, an approval under a deployment, the resumable audited apply).
The state is remembered even in a dry run: the windows must not lose a poll.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Failed, State
from prefect.utilities.annotations import quote

import tasks.guard as guard_tasks
from flows.ending import gated_end, stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import MailopsError
from mailops.guard import JOB, GuardAction, GuardRun, OutboundGuardResult
from mailops.rules.shard import Shard
from tasks.approval import gate
from tasks.context import current_run_id, current_settings


def _plan_markdown(run: GuardRun) -> str:
    from mailops.report.escape import markdown_text

    lines = ["# outbound-guard plan", "", "| domain | action | reason |", "|---|---|---|"]
    lines += [f"| {markdown_text(c.label)} | {c.action} | {markdown_text(c.reason)} |"
              for c in run.actions]
    return "\n".join(lines)


@run_form
@flow(name=jobs.OUTBOUND_GUARD, log_prints=False)
async def outbound_guard(
    apply: bool = False,
    max_actions: int | None = None,
    as_of: datetime | None = None,
    notify: bool = True,
    shard: str = "",
) -> OutboundGuardResult | State:
    """Poll EmBoux, update every mailbox's and group's status, plan suspends and resumes.

    Args:
        apply: Make the planned suspends and resumes. Under a deployment the run first pauses
            until a person approves them in the Prefect UI; off, a dry run.
        max_actions: Refuse to apply more changes than this; by default the `[guard]
            max_actions_per_run` setting (100).
        as_of: The instant of the poll; by default now.
        notify: Post status changes to Slack.
        shard: `i/n` guards only the groups of shard i of n (whole groups: the ratio needs
            every member); empty guards every domain.
    """
    logger = get_run_logger()
    result: OutboundGuardResult | None = None
    try:
        part = Shard.parse(shard)
        settings = current_settings()
        as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
        run_id = current_run_id()
        collected = await guard_tasks.read_domains(part)
        run, notified_groups = guard_tasks.evaluate_and_remember(
            quote(collected), as_of, run_id
        )
        planned = [GuardAction.of(change) for change in run.actions]
        result = OutboundGuardResult(as_of, run_id, part, not apply, run.mailboxes(),
                                     run.groups, planned, collected.failures)
        guard_tasks.publish_artifacts(quote(run), as_of)
        applied: list[GuardAction] = []
        problems = [f"{f.subject}: {f.message}" for f in collected.failures]
        cap = max_actions if max_actions is not None else settings.guard.max_actions_per_run
        decision = await gate(len(run.actions), cap, apply=apply, job=JOB, run_id=run_id,
                              plan_markdown=_plan_markdown(run))
        if decision.refusal is not None:
            result = replace(result, dry_run=True)
            return gated_end(result, decision, logger, problems=problems)
        if decision.applies:
            outcome, applied = await guard_tasks.apply_guard_plan(run_id)
            result = replace(result, applied=len(applied))
            problems += [f"{label}: {message}" for label, message in outcome.failed]
    except MailopsError as exc:
        logger.error("outbound-guard stopped: %s", exc)
        return Failed(message=stopped(exc), data=result)

    if notify:
        delivered, error = guard_tasks.notify_transitions(
            quote(run), notified_groups, applied if apply else planned, not apply, as_of
        )
        result = replace(result, notification=delivered)
        if error is not None:
            problems.append(f"the status changes were not posted ({error})")
    logger.info(
        "outbound-guard %s: %d mailboxes, %d groups, %d actions (%s)",
        as_of.isoformat(), len(run.records), len(run.groups), len(run.actions),
        "applied" if apply else "dry run",
    )
    return gated_end(result, decision, logger, problems=problems)


if __name__ == "__main__":
    asyncio.run(outbound_guard())
