"""`mailops contacts cleanup` and `mailops contacts undo`: the contact bot, gated
(docs/cleanbox-api.md#contact-rules)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import JsonFlag, first_lines, output
from cli.commands import (
    NoSummaryOption,
    ResumeOption,
    ShardOption,
    TeamsOption,
    add_group,
    apply_option,
    as_of_option,
    max_actions_option,
    parse_instant,
    parse_shard,
    require_stored_plan,
    run_job,
)
from flows.resume import Resume
from mailops.contacts import ContactCleanupResult, ContactUndoResult
from mailops.report.escape import terminal_text

MAX_ACTION_LINES = 15
ApplyChanges = apply_option("Change the states")
MaxChanges = max_actions_option("Refuse to apply a plan with more changes (default 100).")
AgesAsOf = as_of_option("contact ages are measured at")


def register(app: typer.Typer) -> None:
    add_group(app, "contacts", "Cleanbox contacts: clean up by Cleanbox's contact rules, undo.",
              {"cleanup": cleanup, "undo": undo})


def cleanup(
    team: TeamsOption = None,
    apply: ApplyChanges = False,
    max_actions: MaxChanges = None,
    resume: ResumeOption = None,
    as_of: AgesAsOf = None,
    no_notify: NoSummaryOption = False,
    shard: ShardOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Plan (default) or apply the contact rules to every unset contact."""
    output.json = output.json or json_output
    instant = parse_instant(as_of)
    part = parse_shard(shard)
    from mailops.contacts import JOB

    require_stored_plan(JOB, resume)
    common = {"teams": tuple(team or ()), "apply": apply, "max_actions": max_actions,
              "as_of": instant, "notify": not no_notify}
    if resume:
        outcome = run_job("flows.contact_cleanup:resume_contact_cleanup",
                          resume=Resume(run_id=resume, **common), shard=part or "")
    else:
        outcome = run_job("flows.contact_cleanup:contact_cleanup", shard=part or "", **common)
    result = outcome.result if isinstance(outcome.result, ContactCleanupResult) else None
    output.finish(_summary(result), result or {},
                  error=None if outcome.ok else outcome.message, local_json=json_output)


def undo(
    run_id: Annotated[str, typer.Argument(help="The contact-cleanup run to revert.")],
    resume: Annotated[
        str | None, typer.Option("--resume", help="Finish this earlier undo run.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Revert every change of one cleanup run (a contact changed since is left alone)."""
    output.json = output.json or json_output
    from mailops.contacts import JOB, UNDO_JOB

    require_stored_plan(JOB, run_id, option="RUN_ID")
    require_stored_plan(UNDO_JOB, resume)
    outcome = run_job("flows.contact_undo:contact_undo", run_id=run_id, undo_run_id=resume)
    result = outcome.result if isinstance(outcome.result, ContactUndoResult) else None
    if result is None:
        summary = f"Undo of {terminal_text(run_id)} did nothing."
    else:
        summary = (
            f"Undo of {terminal_text(run_id)}: {result.reverted} contacts reverted, "
            f"{len(result.left_alone)} left alone (changed since), {len(result.missing)} gone."
        )
        summary = "\n".join([summary, *first_lines(result.left_alone, lambda item: (
            f"kept {terminal_text(item.email)}: now {item.state}, the run set {item.run_set}"),
            MAX_ACTION_LINES)])
    output.finish(summary, result or {}, error=None if outcome.ok else outcome.message,
                  local_json=json_output)


def _summary(result: ContactCleanupResult | None) -> str:
    if result is None:
        return "contact-cleanup planned nothing."
    mode = "dry run" if result.dry_run else "apply"
    lines = [
        f"Contact cleanup ({mode}) run {result.run_id}: "
        + ", ".join(f"{n} {action}" for action, n in result.planned.items())
        + f"; {result.skipped_invalid} skipped (not an address).",
    ]
    if not result.dry_run and not result.refused:
        lines.append("Applied: " + ", ".join(f"{n} {a}" for a, n in result.applied.items()) + ".")
    lines += first_lines(result.actions, lambda action: (
        f"{action.action:<9} {terminal_text(action.email)}: {terminal_text(action.reason)}"),
        MAX_ACTION_LINES, total=result.actions_total)
    if result.refused:
        lines.append(f"Not applied: {terminal_text(result.refused)}")
    elif result.dry_run and result.actions_total:
        lines.append(f"Nothing changed. Apply this plan with: mailops contacts cleanup --apply "
                     f"--resume {result.run_id}")
    return "\n".join(lines)
