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
from flows.ending import stopped
from flows.keyed_call import KeyedCall
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import ConfigError, MailopsError, StoreError
from mailops.jsonable import to_jsonable
from mailops.rules.resets import (
    MonthCounters,
    ResetOutcome,
    Resume,
    after_retake,
    monthly_key,
    reconcile_monthly,
)
from mailops.store import LedgerStatus
from tasks.context import current_run_id

JOB = outbound.JOB_MONTHLY
CALL = KeyedCall(JOB, "period", "monthly reset")
MAX_CALLS = 2  # the first, and one more only when the counters prove it was not applied




@run_form
@flow(name=jobs.BILLING_FREEZE, log_prints=False)
async def billing_freeze(
    period: str = "", force: bool = False, as_of: datetime | None = None
) -> dict[str, Any] | State:
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
    logger = get_run_logger()
    run_id = current_run_id()
    result: dict[str, Any] = {
        "job": JOB, "period": period, "run_id": run_id, "forced": force,
        "status": "not_started", "calls": 0, "sent": False, "reconciled": False,
        "source": None, "domains": None, "billing_rows": None, "detail": None, "spool": None,
    }
    claimed = False

    async def finish(status: LedgerStatus, detail: str) -> None:
        nonlocal claimed
        await outbound.finish_key(JOB, key, run_id, status, detail)
        claimed = False

    async def billed(
        rows: list[dict[str, Any]], source: str, detail: str
    ) -> dict[str, Any] | State:
        """Store the billing rows with the ledger's done; when the store cannot take them,
        keep them in the spool (the reset was applied: they exist nowhere else)."""
        nonlocal claimed
        try:
            await outbound.complete_freeze(key, run_id, rows, detail)
        except StoreError as exc:
            claimed = False  # the claim is left as it is: importing the spool settles it
            spool_file = await outbound.spool_freeze(key, run_id, rows, detail)
            result.update(status="spooled", source=source, billing_rows=len(rows),
                          detail=detail, spool=spool_file)
            return await CALL.failed(result, (
                f"the monthly reset of {key} was applied, but the store could not take its "
                f"{len(rows)} billing rows ({exc}); they are kept in {spool_file}, which the "
                "next billing-freeze run with a working store imports"))
        claimed = False
        result.update(status="done", source=source, billing_rows=len(rows), detail=detail)
        logger.info("billing-freeze %s: %s", key, detail)
        return await CALL.published(result)

    async def done_from_snapshot(rows: list[dict[str, Any]], why: str) -> dict[str, Any] | State:
        billed_rows = [{**row, "source": "snapshot"} for row in rows]
        detail = f"{why}; billed {len(billed_rows)} domains from the snapshot"
        return await billed(billed_rows, "snapshot", detail)

    try:
        try:
            key = monthly_key(period or None, as_of or datetime.now(UTC))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        result["period"] = key
        outbound.require_emboux_token()
        spooled = await outbound.import_spooled_freezes()
        if spooled.describe():
            result["spool"] = to_jsonable(spooled)
            logger.info("billing-freeze: %s", spooled.describe())
        claim = await outbound.claim_key(JOB, key, run_id, force)
        if not claim.won:
            return await CALL.not_claimed(result, claim, lambda: _billed(key))
        claimed = True
        async with outbound.holding(JOB, key, run_id):
            snapshot: list[dict[str, Any]] | None = None
            previous = claim.previous
            if CALL.maybe_applied(previous):
                # A run that died mid-call, or an unknown outcome forced: the snapshot it
                # stored before its call and the counters now decide, as after a lost answer.
                stored = await outbound.stored_snapshot(key)
                current = await outbound.read_counters()
                decision = reconcile_monthly(_counters(stored), _counters(current))
                who = f"run {previous.run_id} ({previous.status.value})"
                result.update(reconciled=True, detail=f"{who}: {decision.reason}")
                step = after_retake(decision, force)
                if step is Resume.DONE:
                    result["domains"] = len(stored)
                    return await done_from_snapshot(stored, f"{who} had frozen the month: "
                                                            f"{decision.reason}")
                if step is Resume.UNKNOWN:
                    return await _unknown(result, key, f"{who}: {decision.reason}", finish)
                snapshot = current
            if snapshot is None:
                snapshot = await outbound.read_counters()
            await outbound.save_snapshot(key, run_id, snapshot)
            result["domains"] = len(snapshot)
            logger.info("billing-freeze %s: snapshot of %d domains stored", key, len(snapshot))
            while result["calls"] < MAX_CALLS:
                result["calls"] += 1
                await outbound.record_call(JOB, key, run_id, None)  # the snapshot is the evidence
                result["sent"] = True  # from here on it may have been applied
                answer = await outbound.post_reset_monthly()
                if answer["outcome"] == outbound.REFUSED:
                    # Refused before any work: not applied (nor was an earlier ambiguous call).
                    result.update(status="failed", sent=False)
                    await finish(LedgerStatus.FAILED, answer["error"])
                    return await CALL.failed(result, answer["error"])
                if answer["outcome"] == outbound.APPLIED:
                    rows = _frozen_rows(answer["frozen"], snapshot)
                    detail = f"froze {len(rows)} domains from the reset-monthly answer"
                    return await billed(rows, "reset", detail)
                logger.warning(
                    "billing-freeze %s: %s; not resent, reconciling from the counters",
                    key, answer["error"],
                )
                current = await outbound.read_counters()
                decision = reconcile_monthly(_counters(snapshot), _counters(current))
                result.update(reconciled=True, detail=decision.reason)
                if decision.outcome is ResetOutcome.APPLIED:
                    return await done_from_snapshot(
                        snapshot, f"answer lost; reconciled: {decision.reason}")
                if decision.outcome is ResetOutcome.NOT_APPLIED:
                    # Proven not applied. The counters just read (traffic went on) become the
                    # snapshot that the next call is checked against and billed from.
                    result["sent"] = False
                    logger.info("billing-freeze %s: %s", key, decision.reason)
                    snapshot = current
                    await outbound.save_snapshot(key, run_id, snapshot)
                    continue
                return await _unknown(result, key, decision.reason, finish)
            message = (
                f"reset-monthly for {key} was not applied after {MAX_CALLS} calls whose "
                "answers were lost; a later run may try again"
            )
            result.update(status="failed", sent=False)
            await finish(LedgerStatus.FAILED, message)
            return await CALL.failed(result, message)
    except MailopsError as exc:
        message = stopped(exc, jobs.BILLING_FREEZE)
        if claimed:
            message = await CALL.release(result, run_id, message)
        return await CALL.failed(result, message)


async def _unknown(result: dict[str, Any], key: str, reason: str, finish: Any) -> State:
    """The monthly reset may or may not have happened: unknown, alerted, the run failed."""
    message = (
        f"the monthly reset of {key} may or may not have been applied: {reason}. The "
        "snapshot is kept; check the counters, and if it was not applied run again with --force"
    )
    await finish(LedgerStatus.UNKNOWN, message)
    result["status"] = "unknown"
    await outbound.raise_alert(
        datetime.now(UTC).date(), JOB, "reset_outcome_unknown", f"{JOB} {key}", message
    )
    return await CALL.failed(result, message)


def _counters(rows: list[dict[str, Any]]) -> dict[str, MonthCounters]:
    return {
        row["domain"]: MonthCounters(
            row["outbound_sent_month"], row["bounce_count"], row["complaint_count"]
        )
        for row in rows
    }


def _frozen_rows(
    frozen: list[dict[str, Any]], snapshot: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The answer's frozen rows as billing rows, with each domain's enforcement from the
    snapshot (the answer does not carry it; a domain the snapshot missed gets None)."""
    enforcement = {row["domain"]: row["outbound_enforcement"] for row in snapshot}
    return [
        {
            "domain": row["name"],
            "partner_ref": row["partner_ref"],
            "outbound_sent_month": row["outbound_sent_month"],
            "outbound_monthly_limit": row["outbound_monthly_limit"],
            "outbound_enforcement": enforcement.get(row["name"]),
            "bounce_count": row["bounce_count"],
            "complaint_count": row["complaint_count"],
            "bounce_rate": row["bounce_rate"],
            "complaint_rate": row["complaint_rate"],
            "source": "reset",
        }
        for row in frozen
    ]



async def _billed(period: str) -> dict[str, Any]:
    return {"billing_rows": await outbound.billed_count(period)}


if __name__ == "__main__":
    asyncio.run(billing_freeze())
