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

from prefect import flow, get_run_logger
from prefect.states import State

import tasks.outbound as outbound
from flows.keyed_call import KeyedCall, Progress
from flows.run_form import run_form
from mailops import jobs
from mailops.errors import MailopsError
from mailops.resets import DailyResetResult, DomainCounters
from mailops.rules import resets
from mailops.store import LedgerEntry, LedgerStatus
from tasks.context import current_run_id, require_emboux_token, run_trigger

JOB = outbound.JOB_DAILY
CALL = KeyedCall(JOB, "reset")
MAX_CALLS = 2  # the first, and one more only when the counters prove it was not applied
WITNESSES = 20  # domains whose counters are read before the call

Run = Progress[DailyResetResult]


def _sent_today(counters: list[DomainCounters]) -> dict[str, int]:
    return {row.domain: row.outbound_sent_today for row in counters}


def _evidence(counters: list[DomainCounters]) -> str:
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
) -> DailyResetResult | State:
    """Reset the daily outbound counters once for today's UTC day.

    Args:
        force: Retake a day whose outcome is unknown, or whose holder cannot be told alive
            or dead. The run still reconciles from the counters first and never calls when
            they show the reset happened.
        as_of: The instant taken as now (the sandbox's simulated clock in the demo; the real
            clock by default).
    """
    logger = get_run_logger()
    now = as_of or datetime.now(UTC)
    run = Progress(DailyResetResult(JOB, None, current_run_id(), force))
    try:
        key = resets.daily_key(now)
        run.update(key=key)
        require_emboux_token(outbound.NO_TOKEN)
        trigger, slot = run_trigger(as_of)
        run.update(trigger=trigger.value)
        if trigger is resets.Trigger.SCHEDULED:
            due = await _due(key, slot, now)
            if not due.reset:
                run.update(status="skipped", detail=due.reason)
                logger.info("outbound-reset-daily %s: nothing sent: %s", key, due.reason)
                return await CALL.published(run)
            logger.info("outbound-reset-daily %s: %s", key, due.reason)
        return await CALL.holding(
            run, force, lambda previous: _reset(run, previous, force))
    except MailopsError as exc:
        return await CALL.stopped(run, exc)


async def _reset(run: Run, previous: LedgerEntry | None, force: bool) -> DailyResetResult | State:
    """The claimed day: reconcile a retaken call first, read the witnesses, call."""
    logger = get_run_logger()
    key = CALL.key(run)
    witnesses: list[DomainCounters] | None = None
    if CALL.maybe_applied(previous):
        # A run that died mid-call, or an unknown outcome forced: its call may have been
        # applied. The counters it recorded before the call decide, as after a lost answer.
        counters = await outbound.read_counters()
        decision = resets.reconcile_daily(_sent_today(counters), _witnessed(previous))
        who = (f"run {previous.run_id} ({previous.status.value}, called at "
               f"{previous.called_at:%H:%M:%S} UTC)")
        run.update(reconciled=True, detail=f"{who}: {decision.reason}")
        step = resets.after_retake(decision, force)
        if step is resets.Resume.DONE:
            await CALL.finish(run, LedgerStatus.DONE, f"{who} had reset the day: {decision.reason}")
            run.update(status="done")
            logger.info("outbound-reset-daily %s: done by %s; nothing sent", key, who)
            return await CALL.published(run)
        if step is resets.Resume.UNKNOWN:
            return await CALL.unknown(run, f"{who}: {decision.reason}")
        logger.info("outbound-reset-daily %s: %s; calling", key, decision.reason)
        witnesses = counters
    if witnesses is None:
        # A few domains' counters before the call: after a lost answer they tell an applied
        # reset (lower) from one that never happened (as high or higher).
        try:  # not retried: the reset must not wait for them
            witnesses = await outbound.read_counters.with_options(retries=0)(WITNESSES)
        except MailopsError as exc:  # only a lost answer needs them: reset all the same
            logger.warning("outbound-reset-daily %s: no counters read before the call (%s)",
                           key, exc)
            witnesses = []
    for call in range(1, MAX_CALLS + 1):
        await outbound.record_call(JOB, key, run.result.run_id, _evidence(witnesses))
        run.update(sent=True)  # from here on it may have been applied
        answer = await outbound.post_reset_daily()
        if answer.outcome == outbound.REFUSED:
            return await CALL.refused(run, answer.error)
        if answer.outcome == outbound.APPLIED:
            detail = f"reset {answer.reset_count} domains"
            run.update(reset_count=answer.reset_count)
            await CALL.finish(run, LedgerStatus.DONE, detail)
            run.update(status="done", detail=detail)
            logger.info("outbound-reset-daily %s: %s", key, detail)
            return await CALL.published(run)
        CALL.answer_lost(run, answer.error)
        counters = await outbound.read_counters()
        decision = resets.reconcile_daily(_sent_today(counters), _sent_today(witnesses))
        run.update(reconciled=True, detail=decision.reason)
        if decision.outcome is resets.ResetOutcome.APPLIED:
            detail = f"answer lost ({answer.error}); reconciled: {decision.reason}"
            await CALL.finish(run, LedgerStatus.DONE, detail)
            run.update(status="done")
            logger.info("outbound-reset-daily %s: done (%s)", key, decision.reason)
            return await CALL.published(run)
        if decision.outcome is resets.ResetOutcome.NOT_APPLIED and call < MAX_CALLS:
            # Proven not applied: the counters just read are the next call's witnesses.
            run.update(sent=False)
            logger.info("outbound-reset-daily %s: %s", key, decision.reason)
            witnesses = counters
            continue
        if decision.outcome is resets.ResetOutcome.NOT_APPLIED:
            message = (f"reset-daily for {key} was not applied after {MAX_CALLS} "
                       "calls whose answers were lost; a later run may try again")
            run.update(status="failed", sent=False)
            await CALL.finish(run, LedgerStatus.FAILED, message)
            return await CALL.failed(run, message)
        return await CALL.unknown(run, decision.reason)
    raise AssertionError("unreachable: every call ends the loop")


async def _due(key: str, slot: datetime | None, now: datetime) -> resets.Due:
    """Whether a scheduled run resets today, from the ledger of yesterday and today."""
    yesterday = (date.fromisoformat(key) - timedelta(days=1)).isoformat()
    before, today = await outbound.ledger_entries(JOB, [yesterday, key])
    return resets.daily_reset_due(
        resets.Trigger.SCHEDULED, slot, now,
        previous_day_done=before is not None and before.status is LedgerStatus.DONE,
        attempted_today=today is not None,
    )


if __name__ == "__main__":
    asyncio.run(outbound_reset_daily())
