"""quarantine-accept: auto-remediation of the quarantine backlog, behind the gate.

The idea is Cleanbox's monitoring guide's (docs/cleanbox-api.md#monitoring-guide).

Each team's backlog is counted exactly; only above the threshold are the whitelisted contacts
and quarantined messages read and the accepts planned and stored. Without `apply` stop
there. With `apply`, the plan must fit under the cap and, under a deployment, be approved in
the Prefect UI; then the gate accepts in batches of 100, auditing each uuid. A run resumed
by id applies its stored plan and skips what is already done.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Failed, State

import tasks.quarantine as quarantine_tasks
from flows.ending import gated_end, notified, stopped
from flows.resume import Resume
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import ConfigError, MailopsError
from mailops.quarantine import JOB, QuarantineAcceptResult, TeamAccepts
from mailops.report.escape import markdown_text
from tasks.approval import gate, require_stored_plan
from tasks.context import configured_teams, current_run_id, current_settings


@run_form
@flow(name=jobs.QUARANTINE_ACCEPT, log_prints=False)
async def quarantine_accept(
    teams: tuple[str, ...] = (),
    apply: bool = False,
    threshold: int | None = None,
    max_spam_score: float | None = None,
    max_actions: int | None = None,
    as_of: datetime | None = None,
    notify: bool = True,
) -> QuarantineAcceptResult | State:
    """Plan the accepts of whitelisted senders' quarantined mail; make them only with `apply`.

    Args:
        teams: Only these configured Cleanbox teams; empty acts on every team.
        apply: Accept the planned messages. Under a deployment the run first pauses until a
            person approves the plan in the Prefect UI; off, the run only plans.
        threshold: Act only on a team whose quarantine backlog exceeds this many messages;
            by default the `[quarantine] threshold` setting (10).
        max_spam_score: Keep a message scoring at least this (0 to 10) even from a
            whitelisted sender; by default the `[quarantine] max_spam_score` setting (off).
        max_actions: Refuse to apply a plan of more accepts than this; by default the
            `[quarantine] max_actions_per_run` setting (500).
        as_of: The instant the report is stamped with; by default now.
        notify: Post the Slack summary.
    """
    return await _accept(teams, apply, threshold, max_spam_score, max_actions, as_of, "",
                         notify)


@flow(name=jobs.QUARANTINE_ACCEPT, log_prints=False)
async def resume_quarantine_accept(resume: Resume) -> QuarantineAcceptResult | State:
    """Apply the stored plan of an earlier quarantine-accept run, skipping what is done.

    `mailops quarantine accept --apply --resume RUN_ID` runs it (flows/resume.py); the plan
    was decided by its own run's threshold and spam score, so it takes neither.

    Args:
        resume: The earlier run and how to finish it.
    """
    return await _accept(resume.teams, resume.apply, None, None, resume.max_actions,
                         resume.as_of, resume.run_id, resume.notify)


async def _accept(
    teams: tuple[str, ...],
    apply: bool,
    threshold: int | None,
    max_spam_score: float | None,
    max_actions: int | None,
    as_of: datetime | None,
    resume_run_id: str,
    notify: bool,
) -> QuarantineAcceptResult | State:
    """The job itself: plan (or reuse `resume_run_id`'s stored plan), gate, accept."""
    logger = get_run_logger()
    result: QuarantineAcceptResult | None = None
    try:
        settings = current_settings()
        rules = settings.quarantine
        names = [team.name for team in configured_teams(settings, teams)]
        if not names:
            raise ConfigError(
                "no Cleanbox team configured: set MAILOPS_CLEANBOX_API_KEY or list teams "
                "in mailops.toml"
            )
        limit = threshold if threshold is not None else rules.threshold
        guard = max_spam_score if max_spam_score is not None else rules.max_spam_score
        cap = max_actions if max_actions is not None else rules.max_actions_per_run
        if resume_run_id:
            require_stored_plan(JOB, resume_run_id)
        run_id = resume_run_id or current_run_id()
        moment = (as_of or datetime.now(UTC)).astimezone(UTC)
        plans = await quarantine_tasks.plan_quarantine(run_id, names, limit, guard)
        result = QuarantineAcceptResult(
            run_id, not apply, moment, cap,
            tuple(TeamAccepts.planned_from(plan, run_id, dry_run=not apply) for plan in plans),
        )
        decision = await gate(result.planned, cap, apply=apply, job=JOB, run_id=run_id,
                              plan_markdown=_approval_markdown(result))
        result = replace(result, refused=decision.refusal)
        if decision.applies:
            accepted, failed = await quarantine_tasks.apply_quarantine(run_id, names)
            after = await quarantine_tasks.count_backlogs(
                [t.team for t in result.teams if t.acted])
            result = result.with_accepts(accepted, after, failed)
    except MailopsError as exc:
        logger.error("quarantine-accept stopped: %s", exc)
        return Failed(message=stopped(exc), data=result)

    quarantine_tasks.publish_artifacts(result)
    if notify:
        result = notified(result, quarantine_tasks.notify(result), logger)
    logger.info(
        "quarantine-accept %s: %s", run_id,
        "; ".join(f"{t.team}: backlog {t.backlog} -> {t.backlog_after}, "
                  f"{len(t.planned)} planned, {t.accepted} accepted"
                  for t in result.teams),
    )
    return gated_end(result, decision, logger, failure=_failure(result))


def _failure(result: QuarantineAcceptResult) -> str | None:
    """Why the run must end Failed although it got through: teams not planned, or messages
    not accepted (the same plan finishes them)."""
    unplanned = [t for t in result.teams if t.error]
    if unplanned:
        return (f"{len(unplanned)} team(s) could not be planned, the others were: "
                + "; ".join(f"{t.team}: {t.error}" for t in unplanned))
    if result.failed:
        return (
            f"{len(result.failed)} messages were not accepted (first: "
            f"{result.failed[0].sender}: {result.failed[0].error}); run again with "
            f"the same plan to finish: mailops quarantine accept --apply --resume "
            f"{result.run_id}"
        )
    return None


def _approval_markdown(result: QuarantineAcceptResult) -> str:
    """What the approver sees behind the Resume button: counts per team, then senders."""
    lines = [
        f"## Quarantine accept: {result.planned} messages (cap {result.cap})", "",
        "| team | backlog | accept | not whitelisted | spam score |", "|---|---|---|---|---|",
        *(f"| {markdown_text(t.team)} | {t.backlog} | {len(t.planned)} | "
          f"{t.kept['not_whitelisted']} | {t.kept['spam_score']} |"
          for t in result.teams), "",
        "| team | from | subject |", "|---|---|---|",
        *(f"| {markdown_text(t.team)} | {markdown_text(m.sender)} | "
          f"{markdown_text(m.subject)} |"
          for t in result.teams for m in t.top[:10]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(quarantine_accept())
