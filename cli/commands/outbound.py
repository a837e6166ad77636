"""`mailops outbound reset-daily` and `mailops outbound freeze-month`: the two counter resets.

Each runs its flow (imported only when the command runs, so `mailops --help` stays fast) and
prints one summary line, or one JSON object with `--json`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.app import EXIT_CONFIG, EXIT_FAILED, JsonFlag, output
from cli.commands import add_group, run_job
from mailops.resets import BillingFreezeResult, DailyResetResult
from mailops.rules.resets import monthly_key

ForceFlag = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Retake a key whose outcome is unknown, or whose holder cannot be told alive or "
        "dead. It reconciles from the counters first and never calls when they show the "
        "reset happened.",
    ),
]


def register(app: typer.Typer) -> None:
    add_group(app, "outbound",
              "EmBoux outbound counters: the daily reset and the monthly billing freeze.",
              {"reset-daily": reset_daily, "freeze-month": freeze_month})


def reset_daily(force: ForceFlag = False, json_output: JsonFlag = False) -> None:
    """Reset the daily outbound counters, once for today's UTC day (the day on the clock)."""
    output.json = output.json or json_output  # failures too are one JSON object
    outcome = run_job("flows.outbound_reset_daily:outbound_reset_daily", force=force)
    if not outcome.ok:
        output.fail(outcome.message or "outbound-reset-daily failed", EXIT_FAILED)
    result: DailyResetResult = outcome.result
    output.emit(_daily_summary(result), result, local_json=json_output)


def freeze_month(
    period: Annotated[
        str | None,
        typer.Option("--period", help="The billed month YYYY-MM: only the month just ended "
                     "(the default), never the running one."),
    ] = None,
    force: ForceFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Freeze the monthly counters for billing and zero them, once per month."""
    output.json = output.json or json_output  # failures too are one JSON object
    if period is not None:
        try:
            monthly_key(period, datetime.now(UTC))
        except ValueError as exc:
            output.fail(f"--period: {exc}", EXIT_CONFIG)
    outcome = run_job("flows.billing_freeze:billing_freeze", period=period or "", force=force)
    if not outcome.ok:
        output.fail(outcome.message or "billing-freeze failed", EXIT_FAILED)
    result: BillingFreezeResult = outcome.result
    output.emit(_monthly_summary(result), result, local_json=json_output)


def _daily_summary(result: DailyResetResult) -> str:
    day = result.key
    if result.status == "already_done":
        return f"The daily reset of {day} is already done ({result.detail}); nothing was sent."
    if result.status == "skipped":
        return f"No daily reset for {day}: {result.detail}."
    if result.reconciled and not result.sent:
        return f"The daily counters of {day} are reset; nothing was sent: {result.detail}."
    if result.reconciled:
        return f"Reset the daily counters for {day}; the answer was lost, and {result.detail}."
    return f"Reset the daily counters of {result.reset_count} domains for {day}."


def _monthly_summary(result: BillingFreezeResult) -> str:
    period = result.key
    if result.status == "already_done":
        return (
            f"The billing freeze of {period} is already done ({result.billing_rows} billing "
            "rows); nothing was sent."
        )
    if result.source == "snapshot":
        return (
            f"Froze {period} for billing: the answer was lost but the reset was applied, so "
            f"the {result.billing_rows} billing rows come from the snapshot taken before it."
        )
    return f"Froze {period} for billing: {result.billing_rows} billing rows stored."
