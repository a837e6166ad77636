"""`mailops quarantine accept`: the quarantine auto-remediation, gated
(docs/cleanbox-api.md#monitoring-guide)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.app import JsonFlag, output
from cli.commands import (
    NoSummaryOption,
    ResumeOption,
    TeamsOption,
    add_group,
    parse_instant,
    require_stored_plan,
    run_job,
)
from mailops.report.escape import terminal_text
from mailops.secrets import redact

MAX_MESSAGE_LINES = 10
JSON_KEYS = ("team", "backlog", "threshold", "dry_run", "planned", "accepted", "kept")


def register(app: typer.Typer) -> None:
    add_group(app, "quarantine", "Cleanbox quarantine: accept whitelisted senders' messages.",
              {"accept": accept})


def accept(
    team: TeamsOption = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Accept the messages (default: plan only).")
    ] = False,
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
    max_actions: Annotated[
        int | None,
        typer.Option("--max-actions", min=1,
                     help="Refuse to apply a plan with more accepts (default 500)."),
    ] = None,
    resume: ResumeOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO 8601 instant the report is stamped with.")
    ] = None,
    no_notify: NoSummaryOption = False,
    json_output: JsonFlag = False,
) -> None:
    """Plan (default) or apply the accepts of quarantined mail from whitelisted contacts."""
    as_json = output.json or json_output
    output.json = as_json  # failures too are one JSON object
    instant = parse_instant(as_of)
    from mailops.quarantine import JOB

    require_stored_plan(JOB, resume)
    common = {"teams": tuple(team or ()), "apply": apply, "threshold": threshold,
              "max_spam_score": max_spam_score, "max_actions": max_actions, "as_of": instant,
              "notify": not no_notify}
    if resume:
        outcome = run_job("flows.quarantine_accept:resume_quarantine_accept",
                          resume_run_id=resume, **common)
    else:
        outcome = run_job("flows.quarantine_accept:quarantine_accept", **common)
    result: dict[str, Any] = outcome.result if isinstance(outcome.result, dict) else {}
    error = None if outcome.ok else outcome.message
    teams = [json_object(t) for t in result.get("teams", [])]
    if as_json and len(teams) > 1:
        typer.echo(json.dumps(teams, default=str))
        if error is not None:
            typer.echo(f"mailops: {terminal_text(redact(error))}", err=True)
            raise SystemExit(1)
        return
    output.finish(_summary(result), teams[0] if teams else {}, error=error,
                  local_json=json_output)


def json_object(team: dict[str, Any]) -> dict[str, Any]:
    """One team's --json object: the documented keys, then the run id and backlog after."""
    return {**{k: team[k] for k in JSON_KEYS},
            "backlog_after": team["backlog_after"], "run_id": team["run_id"]}


def _summary(result: dict[str, Any]) -> str:
    if not result:
        return "quarantine-accept did nothing."
    mode = "dry run" if result["dry_run"] else "apply"
    lines = [f"Quarantine accept ({mode}) run {result['run_id']}:"]
    for t in result["teams"]:
        if not t["acted"]:
            lines.append(f"  {terminal_text(t['team'])}: backlog {t['backlog']}, not above the "
                         f"threshold of {t['threshold']}: nothing to do.")
            continue
        kept = t["kept"]
        lines.append(
            f"  {terminal_text(t['team'])}: backlog {t['backlog']}"
            + ("" if result["dry_run"] else f" -> {t['backlog_after']}")
            + f" (threshold {t['threshold']}); {len(t['planned'])} planned, {t['accepted']} "
            f"accepted; kept {kept['not_whitelisted']} not whitelisted, "
            f"{kept['spam_score']} for their spam score.")
        for message in t["top"][:MAX_MESSAGE_LINES]:
            lines.append(f"    {terminal_text(message['from'])}: "
                         f"{terminal_text(message['subject'])}")
        more = len(t["planned"]) - min(len(t["top"]), MAX_MESSAGE_LINES)
        if more > 0:
            lines.append(f"    ...and {more} more")
    if result["refused"]:
        lines.append(f"Not applied: {terminal_text(result['refused'])}")
    elif result["dry_run"] and any(t["planned"] for t in result["teams"]):
        lines.append("Nothing changed. Apply this plan with: mailops quarantine accept --apply "
                     f"--resume {result['run_id']}")
    return "\n".join(lines)
