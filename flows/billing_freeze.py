"""billing-freeze: `POST /outbound/reset-monthly` exactly once per month, losing no billing data.

Only a month that has ended is billed (at any time in the month after it), never the running one.
1. claim the period in the ledger (a second run for the period sends nothing; a live holder is
   never raced, a dead one's call is reconciled from its snapshot before anything is sent);
2. snapshot every domain's counters into the store (the fallback billing data and the
   evidence a reconciliation needs), then mark the claim as calling;
3. call reset-monthly once (a 429 or 503 is retried by the HTTP layer: not processed);
4. store its frozen rows as the period's billing rows, with the ledger's done, in one
   transaction; when the store cannot take them, keep them in a spool file
   (`<data>/spool/billing-freeze-<period>-<run id>.json`), which the next run imports
   before it claims anything, marking the period done.
When the answer is lost, the counters decide: all lowered (only a reset lowers them) means it
was applied and the snapshot becomes the billing rows; all unchanged or grown means it was not,
and it is called once more; anything else is marked unknown, alerted, and left to `force`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

import tasks.outbound as outbound
from flows.keyed_call import KeyedCall, Progress
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import ConfigError, MailopsError, StoreError
from mailops.models.emboux import FrozenCounters
from mailops.resets import BillingFreezeResult
from mailops.rules import resets
from mailops.store import BillingRow, LedgerEntry, LedgerStatus
from tasks.context import current_run_id, require_emboux_token

JOB = outbound.JOB_MONTHLY
CALL = KeyedCall(JOB, "monthly reset", unknown_note="The snapshot is kept. ")
MAX_CALLS = 2  # the first, and one more only when the counters prove it was not applied

Run = Progress[BillingFreezeResult]


@run_form
@flow(name=jobs.BILLING_FREEZE, log_prints=False)
async def billing_freeze(
    period: str = "", force: bool = False, as_of: datetime | None = None
) -> BillingFreezeResult | State:
    """Freeze the monthly counters for billing and zero them, once for the month just ended.

    Args:
        period: The billed month YYYY-MM. Only the month that has ended most recently can be
            billed (at any time in the month after it), never the running month; empty bills
            that month.
        force: Retake a month whose outcome is unknown, or whose holder cannot be told alive
            or dead. The run still reconciles from the counters first and never calls when
            they show the reset happened.
        as_of: The instant taken as now (the sandbox's simulated clock in the demo; the real
            clock by default).
    """
    run = Progress(BillingFreezeResult(JOB, period, current_run_id(), force))
    try:
        try:
            key = resets.monthly_key(period or None, as_of or datetime.now(UTC))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        run.update(key=key)
        require_emboux_token(outbound.NO_TOKEN)
        spooled = await outbound.import_spooled_freezes()
        if spooled.describe():
            run.update(spool=spooled)
            get_run_logger().info("billing-freeze: %s", spooled.describe())
        return await CALL.holding(
            run, force, lambda previous: _freeze(run, previous, force), lambda: _billed(key))
    except MailopsError as exc:
        return await CALL.stopped(run, exc)


async def _freeze(
    run: Run, previous: LedgerEntry | None, force: bool
) -> BillingFreezeResult | State:
    """The claimed month: reconcile a retaken call first, snapshot, call, bill."""
    logger = get_run_logger()
    key = CALL.key(run)
    snapshot: list[BillingRow] | None = None
    if CALL.maybe_applied(previous):
        # A run that died mid-call, or an unknown outcome forced: the snapshot it stored
        # before its call and the counters now decide, as after a lost answer.
        stored = await outbound.stored_snapshot(key)
        current = await _read_snapshot()
        decision = resets.reconcile_monthly(_counters(stored), _counters(current))
        who = f"run {previous.run_id} ({previous.status.value})"
        run.update(reconciled=True, detail=f"{who}: {decision.reason}")
        step = resets.after_retake(decision, force)
        if step is resets.Resume.DONE:
            run.update(domains=len(stored))
            return await _done_from_snapshot(
                run, stored, f"{who} had frozen the month: {decision.reason}")
        if step is resets.Resume.UNKNOWN:
            return await CALL.unknown(run, f"{who}: {decision.reason}")
        snapshot = current
    if snapshot is None:
        snapshot = await _read_snapshot()
    await outbound.save_snapshot(key, run.result.run_id, snapshot)
    run.update(domains=len(snapshot))
    logger.info("billing-freeze %s: snapshot of %d domains stored", key, len(snapshot))
    while run.result.calls < MAX_CALLS:
        run.update(calls=run.result.calls + 1)
        # The snapshot is the evidence of whether it was applied.
        await outbound.record_call(JOB, key, run.result.run_id, None)
        run.update(sent=True)  # from here on it may have been applied
        answer = await outbound.post_reset_monthly()
        if answer.outcome == outbound.REFUSED:
            return await CALL.refused(run, answer.error)
        if answer.outcome == outbound.APPLIED:
            rows = _frozen_rows(answer.frozen, snapshot)
            return await _bill(run, rows, "reset",
                               f"froze {len(rows)} domains from the reset-monthly answer")
        CALL.answer_lost(run, answer.error)
        current = await _read_snapshot()
        decision = resets.reconcile_monthly(_counters(snapshot), _counters(current))
        run.update(reconciled=True, detail=decision.reason)
        if decision.outcome is resets.ResetOutcome.APPLIED:
            return await _done_from_snapshot(
                run, snapshot, f"answer lost; reconciled: {decision.reason}")
        if decision.outcome is resets.ResetOutcome.NOT_APPLIED:
            # Proven not applied. The counters just read (traffic went on) become the
            # snapshot that the next call is checked against and billed from.
            run.update(sent=False)
            logger.info("billing-freeze %s: %s", key, decision.reason)
            snapshot = current
            await outbound.save_snapshot(key, run.result.run_id, snapshot)
            continue
        return await CALL.unknown(run, decision.reason)
    message = (f"reset-monthly for {key} was not applied after {MAX_CALLS} calls whose "
               "answers were lost; a later run may try again")
    run.update(status="failed", sent=False)
    await CALL.finish(run, LedgerStatus.FAILED, message)
    return await CALL.failed(run, message)


async def _bill(
    run: Run, rows: list[BillingRow], source: str, detail: str
) -> BillingFreezeResult | State:
    """Store the billing rows with the ledger's done; when the store cannot take them,
    keep them in the spool (the reset was applied: they exist nowhere else)."""
    key, run_id = CALL.key(run), run.result.run_id
    try:
        await outbound.complete_freeze(key, run_id, rows, detail)
    except StoreError as exc:
        run.claimed = False  # the claim is left as it is: importing the spool settles it
        spool_file = await outbound.spool_freeze(key, run_id, rows, detail)
        run.update(status="spooled", source=source, billing_rows=len(rows), detail=detail,
                   spool=spool_file)
        return await CALL.failed(run, (
            f"the monthly reset of {key} was applied, but the store could not take its "
            f"{len(rows)} billing rows ({exc}); they are kept in {spool_file}, which the "
            "next billing-freeze run with a working store imports"))
    run.claimed = False
    run.update(status="done", source=source, billing_rows=len(rows), detail=detail)
    get_run_logger().info("billing-freeze %s: %s", key, detail)
    return await CALL.published(run)


async def _done_from_snapshot(
    run: Run, rows: list[BillingRow], why: str
) -> BillingFreezeResult | State:
    return await _bill(run, rows, "snapshot",
                       f"{why}; billed {len(rows)} domains from the snapshot")


async def _read_snapshot() -> list[BillingRow]:
    """Every domain's counters now, as the billing rows a snapshot would bill."""
    return [counters.month for counters in await outbound.read_counters()]


def _counters(rows: list[BillingRow]) -> dict[str, resets.MonthCounters]:
    return {
        row.domain: resets.MonthCounters(
            row.outbound_sent_month, row.bounce_count, row.complaint_count
        )
        for row in rows
    }


def _frozen_rows(
    frozen: tuple[FrozenCounters, ...], snapshot: list[BillingRow]
) -> list[BillingRow]:
    """The answer's frozen rows as billing rows, with each domain's enforcement from the
    snapshot (the answer does not carry it; a domain the snapshot missed gets None)."""
    enforcement = {row.domain: row.outbound_enforcement for row in snapshot}
    return [
        BillingRow(row.name, row.partner_ref, row.outbound_sent_month,
                   row.outbound_monthly_limit, enforcement.get(row.name), row.bounce_count,
                   row.complaint_count, row.bounce_rate, row.complaint_rate, source="reset")
        for row in frozen
    ]


async def _billed(period: str) -> dict[str, Any]:
    return {"billing_rows": await outbound.billed_count(period)}


if __name__ == "__main__":
    asyncio.run(billing_freeze())
