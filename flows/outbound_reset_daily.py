"""outbound-reset-daily: `POST /outbound/reset-daily` exactly once per UTC day.

The day is the UTC day on the clock when the call is made (no run may spend another day's
reset). A scheduled run after the 00:00 slot is a catch-up and resets only when mailops owns
the schedule (it reset the day before, or tried earlier today); a run started by hand is the
operator's decision. The ledger claim, naming this process and renewed while it works, comes
before the call, so a second run the same day sends nothing and a live holder is never raced.
Just before the request leaves, the claim records a few domains' counters: a lost answer, or
a run that died mid-call, is then resolved from the remote state (only a reset lowers them):
applied → done without a call; not applied → called once more; can't tell → unknown, alerted,
left to a forced run that reconciles first. A refused call leaves the day failed, for the
next hourly run to retake.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

import tasks.outbound as outbound
from flows.ending import stopped
from flows.keyed_call import KeyedCall
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import MailopsError
from mailops.rules.resets import (
    Due,
    ResetOutcome,
    Resume,
    Trigger,
    after_retake,
    daily_key,
    daily_reset_due,
    reconcile_daily,
)
from mailops.store import LedgerEntry, LedgerStatus
from tasks.context import current_run_id, run_trigger

JOB = outbound.JOB_DAILY
CALL = KeyedCall(JOB, "day", "reset")
MAX_CALLS = 2  # the first, and one more only when the counters prove it was not applied
WITNESSES = 20  # domains whose counters are read before the call


def _sent_today(counters: list[dict[str, Any]]) -> dict[str, int]:
    return {row["domain"]: row["outbound_sent_today"] for row in counters}


def _evidence(counters: list[dict[str, Any]]) -> str:
    return json.dumps({"outbound_sent_today": _sent_today(counters)}, sort_keys=True)


def _witnessed(entry: LedgerEntry) -> dict[str, int]:
    """The counters a claim recorded before its call ({} when none could be read)."""
    try:
        sent = json.loads(entry.evidence or "{}").get("outbound_sent_today", {})
    except (ValueError, AttributeError):
        return {}
    return {str(k): int(v) for k, v in sent.items()} if isinstance(sent, dict) else {}




@run_form
@flow(name=jobs.OUTBOUND_RESET_DAILY, log_prints=False)
async def outbound_reset_daily(
    force: bool = False, as_of: datetime | None = None
) -> dict[str, Any] | State:
    """Reset the daily outbound counters once for today's UTC day.

    Args:
        force: Retake a day whose outcome is unknown, or whose holder cannot be told alive
            or dead. The run still reconciles from the counters first and never calls when
            they show the reset happened.
        as_of: The instant taken as now (the sandbox's simulated clock in the demo; the real
            clock by default).
    """
    logger = get_run_logger()
    run_id = current_run_id()
    now = as_of or datetime.now(UTC)
    result: dict[str, Any] = {
        "job": JOB, "day": None, "run_id": run_id, "forced": force, "trigger": None,
        "status": "not_started", "sent": False, "reconciled": False, "reset_count": None,
        "detail": None,
    }
    claimed = False

    async def finish(status: LedgerStatus, detail: str) -> None:
        nonlocal claimed
        await outbound.finish_key(JOB, key, run_id, status, detail)
        claimed = False

    try:
        key = daily_key(now)
        result["day"] = key
        outbound.require_emboux_token()
        trigger, slot = run_trigger(as_of)
        result["trigger"] = trigger.value
        if trigger is Trigger.SCHEDULED:
            due = await _due(key, slot, now)
            if not due.reset:
                result.update(status="skipped", detail=due.reason)
                logger.info("outbound-reset-daily %s: nothing sent: %s", key, due.reason)
                return await CALL.published(result)
            logger.info("outbound-reset-daily %s: %s", key, due.reason)
        claim = await outbound.claim_key(JOB, key, run_id, force)
        if not claim.won:
            return await CALL.not_claimed(result, claim)
        claimed = True
        async with outbound.holding(JOB, key, run_id):
            witnesses: list[dict[str, Any]] | None = None
            previous = claim.previous
            if CALL.maybe_applied(previous):
                # A run that died mid-call, or an unknown outcome forced: its call may have
                # been applied. The counters it recorded before the call decide, as after a
                # lost answer.
                counters = await outbound.read_counters()
                decision = reconcile_daily(_sent_today(counters), _witnessed(previous))
                who = f"run {previous.run_id} ({previous.status.value}, called at " \
                      f"{previous.called_at:%H:%M:%S} UTC)"
                result.update(reconciled=True, detail=f"{who}: {decision.reason}")
                step = after_retake(decision, force)
                if step is Resume.DONE:
                    await finish(LedgerStatus.DONE, f"{who} had reset the day: {decision.reason}")
                    result["status"] = "done"
                    logger.info("outbound-reset-daily %s: done by %s; nothing sent", key, who)
                    return await CALL.published(result)
                if step is Resume.UNKNOWN:
                    return await _unknown(result, key, run_id, f"{who}: {decision.reason}",
                                          finish)
                logger.info("outbound-reset-daily %s: %s; calling", key, decision.reason)
                witnesses = counters
            if witnesses is None:
                # A few domains' counters before the call: after a lost answer they tell an
                # applied reset (lower) from one that never happened (as high or higher).
                try:  # not retried: the reset must not wait for them
                    witnesses = await outbound.read_counters.with_options(retries=0)(WITNESSES)
                except MailopsError as exc:  # only a lost answer needs them: reset all the same
                    logger.warning("outbound-reset-daily %s: no counters read before the "
                                   "call (%s)", key, exc)
                    witnesses = []
            for call in range(1, MAX_CALLS + 1):
                await outbound.record_call(JOB, key, run_id, _evidence(witnesses))
                result["sent"] = True  # from here on it may have been applied
                answer = await outbound.post_reset_daily()
                if answer["outcome"] == outbound.REFUSED:
                    # Refused before any work: not applied (nor was an earlier ambiguous call).
                    result.update(status="failed", sent=False)
                    await finish(LedgerStatus.FAILED, answer["error"])
                    return await CALL.failed(result, answer["error"])
                if answer["outcome"] == outbound.APPLIED:
                    result["reset_count"] = answer["reset_count"]
                    detail = f"reset {answer['reset_count']} domains"
                    await finish(LedgerStatus.DONE, detail)
                    result.update(status="done", detail=detail)
                    logger.info("outbound-reset-daily %s: %s", key, detail)
                    return await CALL.published(result)
                logger.warning(
                    "outbound-reset-daily %s: %s; not resent, reconciling from the counters",
                    key, answer["error"],
                )
                counters = await outbound.read_counters()
                decision = reconcile_daily(_sent_today(counters), _sent_today(witnesses))
                result.update(reconciled=True, detail=decision.reason)
                if decision.outcome is ResetOutcome.APPLIED:
                    detail = f"answer lost ({answer['error']}); reconciled: {decision.reason}"
                    await finish(LedgerStatus.DONE, detail)
                    result["status"] = "done"
                    logger.info("outbound-reset-daily %s: done (%s)", key, decision.reason)
                    return await CALL.published(result)
                if decision.outcome is ResetOutcome.NOT_APPLIED and call < MAX_CALLS:
                    # Proven not applied: the counters just read are the next call's witnesses.
                    result["sent"] = False
                    logger.info("outbound-reset-daily %s: %s", key, decision.reason)
                    witnesses = counters
                    continue
                if decision.outcome is ResetOutcome.NOT_APPLIED:
                    message = (f"reset-daily for {key} was not applied after {MAX_CALLS} "
                               "calls whose answers were lost; a later run may try again")
                    result.update(status="failed", sent=False)
                    await finish(LedgerStatus.FAILED, message)
                    return await CALL.failed(result, message)
                return await _unknown(result, key, run_id, decision.reason, finish)
            raise AssertionError("unreachable: every call ends the loop")
    except MailopsError as exc:
        message = stopped(exc, jobs.OUTBOUND_RESET_DAILY)
        if claimed:
            message = await CALL.release(result, run_id, message)
        return await CALL.failed(result, message)


async def _due(key: str, slot: datetime | None, now: datetime) -> Due:
    """Whether a scheduled run resets today, from the ledger of yesterday and today."""
    yesterday = (date.fromisoformat(key) - timedelta(days=1)).isoformat()
    before, today = await outbound.ledger_entries(JOB, [yesterday, key])
    return daily_reset_due(
        Trigger.SCHEDULED, slot, now,
        previous_day_done=before is not None and before.status is LedgerStatus.DONE,
        attempted_today=today is not None,
    )


async def _unknown(
    result: dict[str, Any], key: str, run_id: str, reason: str, finish: Any
) -> State:
    """The reset may or may not have happened: unknown in the ledger, alerted, the run failed."""
    message = (
        f"the reset of {key} may or may not have been applied: {reason}. Check the counters; "
        "if it was not applied, run again with --force"
    )
    await finish(LedgerStatus.UNKNOWN, message)
    result["status"] = "unknown"
    await outbound.raise_alert(
        date.fromisoformat(key), JOB, "reset_outcome_unknown", f"{JOB} {key}", message
    )
    return await CALL.failed(result, message)


if __name__ == "__main__":
    asyncio.run(outbound_reset_daily())
