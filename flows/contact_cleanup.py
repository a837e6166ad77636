"""contact-cleanup: the contact-bot rules behind the gate (docs/cleanbox-api.md#contact-rules).

Plan first (every unset contact of every team, classified and stored before anything
changes); without `apply` stop there. With `apply`, the plan must fit under the cap and,
under a deployment, be approved in the Prefect UI; then the gate applies it, auditing each
change. A run resumed by id applies its stored plan and skips what is already done.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Failed, State

import tasks.contacts as contact_tasks
from flows.ending import gated_end, notified, stopped
from flows.resume import Resume
from flows.run_form import run_form
from mailops import jobs
from mailops.contacts import JOB, ContactCleanupResult, PlanSummary, per_action
from mailops.errors import ConfigError, MailopsError
from mailops.report.escape import markdown_text
from mailops.rules.shard import Shard
from tasks.approval import gate, require_stored_plan
from tasks.context import configured_teams, current_run_id, current_settings


@run_form
@flow(name=jobs.CONTACT_CLEANUP, log_prints=False)
async def contact_cleanup(
    teams: tuple[str, ...] = (),
    apply: bool = False,
    max_actions: int | None = None,
    as_of: datetime | None = None,
    notify: bool = True,
    shard: str = "",
) -> ContactCleanupResult | State:
    """Classify every unset contact and store the plan; change states only with `apply`.

    Args:
        teams: Only these configured Cleanbox teams; empty cleans every team.
        apply: Change the contacts' states. Under a deployment the run first pauses until a
            person approves the plan in the Prefect UI; off, the run only plans.
        max_actions: Refuse to apply a plan of more changes than this; by default the
            `[contacts] max_actions_per_run` setting (100).
        as_of: The instant contact ages are measured at; by default now.
        notify: Post the Slack summary.
        shard: `i/n` cleans only the teams of shard i of n; empty cleans every team.
    """
    return await _cleanup(teams, apply, max_actions, as_of, "", notify, shard)


@flow(name=jobs.CONTACT_CLEANUP, log_prints=False)
async def resume_contact_cleanup(resume: Resume, shard: str = "") -> ContactCleanupResult | State:
    """Apply the stored plan of an earlier contact-cleanup run, skipping what is done.

    `mailops contacts cleanup --apply --resume RUN_ID` runs it (flows/resume.py). Under a
    deployment it would pause for approval as well.

    Args:
        resume: The earlier run (a dry run a person reviewed, or an apply to finish) and how
            to finish it.
        shard: `i/n` applies only the teams of shard i of n.
    """
    return await _cleanup(resume.teams, resume.apply, resume.max_actions, resume.as_of,
                          resume.run_id, resume.notify, shard)


async def _cleanup(
    teams: tuple[str, ...],
    apply: bool,
    max_actions: int | None,
    as_of: datetime | None,
    resume_run_id: str,
    notify: bool,
    shard: str,
) -> ContactCleanupResult | State:
    """The cleanup itself: plan (or reuse `resume_run_id`'s stored plan), gate, apply."""
    logger = get_run_logger()
    result: ContactCleanupResult | None = None
    try:
        part = Shard.parse(shard)
        settings = current_settings()
        configured = [team.name for team in configured_teams(settings, teams)]
        if not configured:
            raise ConfigError(
                "no Cleanbox team configured: set MAILOPS_CLEANBOX_API_KEY or list teams "
                "in mailops.toml"
            )
        names = part.select(configured, str)
        if not names:
            logger.info("contact-cleanup shard %s: none of the %d teams is in this shard",
                        part, len(configured))
            return ContactCleanupResult.planned_from(PlanSummary(current_run_id()), part,
                                                     dry_run=not apply)
        if resume_run_id:
            require_stored_plan(JOB, resume_run_id)
        run_id = resume_run_id or current_run_id()
        moment = (as_of or datetime.now(UTC)).astimezone(UTC)
        summary = await contact_tasks.plan_cleanup(run_id, names, moment, part)
        result = ContactCleanupResult.planned_from(summary, part, dry_run=not apply)
        cap = max_actions if max_actions is not None else settings.contacts.max_actions_per_run
        decision = await gate(summary.changes, cap, apply=apply, job=JOB, run_id=run_id,
                              plan_markdown=_approval_markdown(result, cap))
        result = replace(result, refused=decision.refusal)
        if decision.applies:
            applied, failed = await contact_tasks.apply_cleanup(run_id, names, part)
            result = replace(result, applied=per_action(applied), failed=failed)
    except MailopsError as exc:
        logger.error("contact-cleanup stopped: %s", exc)
        return Failed(message=stopped(exc), data=result)

    contact_tasks.publish_artifacts(result)
    if notify:
        result = notified(result, contact_tasks.notify(result), logger)
    logger.info(
        "contact-cleanup %s: planned %s, applied %s, %d skipped as invalid%s",
        run_id, dict(result.planned), dict(result.applied), result.skipped_invalid,
        f"; refused: {decision.refusal}" if decision.refusal else "",
    )
    return gated_end(result, decision, logger, failure=_failure(result))


def _failure(result: ContactCleanupResult) -> str | None:
    """Why the run must end Failed although it got through: teams not read whole, or changes
    that failed (the same plan finishes them)."""
    if result.unreadable:
        return (
            f"{len(result.unreadable)} team(s) could not be read whole, the others were "
            "planned: " + "; ".join(f"{team}: {why}" for team, why in result.unreadable.items())
        )
    if result.failed:
        return (
            f"{len(result.failed)} changes failed (first: {result.failed[0].email}: "
            f"{result.failed[0].error}); run again with the same plan to finish: "
            f"mailops contacts cleanup --apply --resume {result.run_id}"
        )
    return None


def _approval_markdown(result: ContactCleanupResult, cap: int) -> str:
    """What the approver sees behind the Resume button: counts, then the top of the plan."""
    lines = [
        f"## Contact cleanup: {result.actions_total} changes (cap {cap})", "",
        "| action | contacts |", "|---|---|",
        *(f"| {action} | {n} |" for action, n in result.planned.items()), "",
        f"Skipped (not an address): {result.skipped_invalid}", "",
        "| team | email | action | reason |", "|---|---|---|---|",
        *(f"| {markdown_text(a.team)} | {markdown_text(a.email)} | {a.action} | "
          f"{markdown_text(a.reason)} |" for a in result.actions[:20]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(contact_cleanup())
