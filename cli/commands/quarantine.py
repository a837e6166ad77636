"""`mailops quarantine accept`: the quarantine auto-remediation, gated
(docs/cleanbox-api.md#monitoring-guide)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.app import EXIT_CONFIG, JsonFlag, first_lines, output
from cli.commands import (
    NoSummaryOption,
    ResumeOption,
    TeamsOption,
    add_group,
    apply_option,
    as_of_option,
    max_actions_option,
    parse_instant,
    require_stored_plan,
    run_job,
)
from flows.resume import Resume
from mailops.jsonable import to_jsonable
from mailops.quarantine import QuarantineAcceptResult, TeamAccepts
from mailops.report.escape import terminal_text
from mailops.secrets import redact

MAX_MESSAGE_LINES = 10
ApplyAccepts = apply_option("Accept the messages")
MaxAccepts = max_actions_option("Refuse to apply a plan with more accepts (default 500).")
ReportAsOf = as_of_option("the report is stamped with")
# The documented keys of a team's --json object, then the backlog after and the run id.
JSON_KEYS = ("team", "backlog", "threshold", "dry_run", "planned", "accepted", "kept",
             "backlog_after", "run_id")


def register(app: typer.Typer) -> None:
    add_group(app, "quarantine", "Cleanbox quarantine: accept whitelisted senders' messages.",
              {"accept": accept})


def accept(
    team: TeamsOption = None,
    apply: ApplyAccepts = False,
    threshold: Annotated[
        int | None,
        typer.Option("--threshold", min=0,
                     help="Act only when the backlog exceeds this (default 10)."),
    ] = None,
    max_spam_score: Annotated[
        float | None,
        typer.Option("--max-spam-score", min=0,
                     help="Keep messages scoring at least this, even whitelisted (default off)."),
    ] = None,
    max_actions: MaxAccepts = None,
    resume: ResumeOption = None,
    as_of: ReportAsOf = None,
    no_notify: NoSummaryOption = False,
    json_output: JsonFlag = False,
) -> None:
    """Plan (default) or apply the accepts of quarantined mail from whitelisted contacts."""
    as_json = output.json or json_output
    output.json = as_json  # failures too are one JSON object
    instant = parse_instant(as_of)
    from mailops.quarantine import JOB

    if resume and (threshold is not None or max_spam_score is not None):
        output.fail("--resume applies the stored plan its run decided with its own threshold "
                    "and spam score: leave out --threshold and --max-spam-score", EXIT_CONFIG)
    require_stored_plan(JOB, resume)
    common = {"teams": tuple(team or ()), "apply": apply, "max_actions": max_actions,
              "as_of": instant, "notify": not no_notify}
    if resume:
        outcome = run_job("flows.quarantine_accept:resume_quarantine_accept",
                          resume=Resume(run_id=resume, **common))
    else:
        outcome = run_job("flows.quarantine_accept:quarantine_accept", threshold=threshold,
                          max_spam_score=max_spam_score, **common)
    result = outcome.result if isinstance(outcome.result, QuarantineAcceptResult) else None
    error = None if outcome.ok else outcome.message
    teams = [json_object(t) for t in result.teams] if result else []
    if as_json and len(teams) > 1:
        typer.echo(json.dumps(teams))
        if error is not None:
            typer.echo(f"mailops: {terminal_text(redact(error))}", err=True)
            raise SystemExit(1)
        return
    output.finish(_summary(result), teams[0] if teams else {}, error=error,
                  local_json=json_output)


def json_object(team: TeamAccepts) -> dict[str, Any]:
    """One team's --json object: the documented keys, then the backlog after and run id."""
    data = to_jsonable(team)
    return {key: data[key] for key in JSON_KEYS}


def _summary(result: QuarantineAcceptResult | None) -> str:
    if result is None:
        return "quarantine-accept did nothing."
    mode = "dry run" if result.dry_run else "apply"
    lines = [f"Quarantine accept ({mode}) run {result.run_id}:"]
    for t in result.teams:
        if not t.acted:
            lines.append(f"  {terminal_text(t.team)}: backlog {t.backlog}, not above the "
                         f"threshold of {t.threshold}: nothing to do.")
            continue
        lines.append(
            f"  {terminal_text(t.team)}: backlog {t.backlog}"
            + ("" if result.dry_run else f" -> {t.backlog_after}")
            + f" (threshold {t.threshold}); {len(t.planned)} planned, {t.accepted} "
            f"accepted; kept {t.kept['not_whitelisted']} not whitelisted, "
            f"{t.kept['spam_score']} for their spam score.")
        lines += first_lines(t.top, lambda message: (
            f"{terminal_text(message.sender)}: {terminal_text(message.subject)}"),
            MAX_MESSAGE_LINES, total=len(t.planned), indent="    ")
    if result.refused:
        lines.append(f"Not applied: {terminal_text(result.refused)}")
    elif result.dry_run and result.planned:
        lines.append("Nothing changed. Apply this plan with: mailops quarantine accept --apply "
                     f"--resume {result.run_id}")
    return "\n".join(lines)
