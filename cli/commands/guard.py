"""`mailops guard [--apply]`: run outbound-guard once (a dry run unless told to apply)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import JsonFlag, output
from cli.commands import (
    ShardOption,
    apply_option,
    as_of_option,
    max_actions_option,
    parse_instant,
    parse_shard,
    run_job,
)
from mailops.guard import OutboundGuardResult
from mailops.report.escape import terminal_text
from mailops.rules.guard import Status

MAX_LINES = 15
ApplyGuard = apply_option("Make the planned suspends and resumes", "a dry run")
MaxGuardChanges = max_actions_option(
    "Raise the cap on changes per run (the guard section's max_actions_per_run in mailops.toml).")
PollAsOf = as_of_option("of the poll")


def register(app: typer.Typer) -> None:
    app.command("guard")(guard)


def guard(
    apply: ApplyGuard = False,
    max_actions: MaxGuardChanges = None,
    as_of: PollAsOf = None,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Post no status changes to Slack.")
    ] = False,
    shard: ShardOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Run outbound-guard once: the bounce monitor over every EmBoux sending domain
    (docs/outbound-guard.md)."""
    output.json = output.json or json_output
    instant = parse_instant(as_of)
    part = parse_shard(shard)
    outcome = run_job("flows.outbound_guard:outbound_guard", apply=apply,
                      max_actions=max_actions, as_of=instant, notify=not no_notify,
                      shard=part or "")
    result = outcome.result if isinstance(outcome.result, OutboundGuardResult) else None
    output.finish(_summary(result), result or {}, error=None if outcome.ok else outcome.message)


def _summary(result: OutboundGuardResult | None) -> str:
    if result is None:
        return "outbound-guard read nothing."
    boxes, groups, actions = result.mailboxes, result.groups, result.actions
    counts: dict[str, int] = {}
    for box in boxes:
        counts[box.status.value] = counts.get(box.status.value, 0) + 1
    mode = "dry run" if result.dry_run else "applied"
    lines = [
        f"Outbound guard ({mode}) at {result.as_of.isoformat()}: {len(boxes)} mailboxes ("
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f"), {len(groups)} groups, {len(actions)} actions"
        + (f", {result.applied} applied" if result.applied is not None else "") + ".",
    ]
    for box in boxes[:MAX_LINES]:
        if box.status is Status.HEALTHY:
            continue
        lines.append(
            f"  {box.status.value:<8} {terminal_text(box.name)}: window "
            f"{box.window_bounces:g}/{box.window_sends:g}, risk {box.risk}"
        )
    for action in actions[:MAX_LINES]:
        lines.append(f"  {action.action:<8} {terminal_text(action.domain)}: "
                     f"{terminal_text(action.reason)}")
    if len(actions) > MAX_LINES:
        lines.append(f"  ...and {len(actions) - MAX_LINES} more actions")
    if result.notification:
        lines.append(f"Status changes sent to {result.notification}.")
    return "\n".join(lines)
