"""outbound-reset-daily: `POST /outbound/reset-daily` exactly once per UTC day.

The ledger claim comes before the call, so a second run the same day sends nothing. A lost
answer is never resent blindly: the flow reads the counters, and compares them with a few
domains' counters read just before the call (only a reset lowers them): all lower (or all
zero) means applied, all as high means not applied and the call is made once more; when it
cannot tell, the day is marked unknown, an alert is stored, and only a forced run
(`force=True`, after a person checked) may reset again. A refused call leaves the day failed,
for the next hourly run to retake.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

import tasks.outbound as outbound
from flows.keyed_call import KeyedCall
from mailops.errors import ConfigError, MailopsError
from mailops.rules.resets import ResetOutcome, daily_key, reconcile_daily
from mailops.store import LedgerStatus
from tasks.context import current_run_id

JOB = outbound.JOB_DAILY
CALL = KeyedCall(JOB, "day", "reset")
MAX_CALLS = 2  # the first, and one more only when the counters prove it was not applied
WITNESSES = 20  # domains whose counters are read before the call


def _sent_today(counters: list[dict[str, Any]]) -> dict[str, int]:
    return {row["domain"]: row["outbound_sent_today"] for row in counters}


@flow(name="outbound-reset-daily", log_prints=False)
async def outbound_reset_daily(
    day: str | None = None, force: bool = False, as_of: datetime | None = None
) -> dict[str, Any] | State:
    """Reset the daily outbound counters once for the UTC day.

    day: the UTC day `YYYY-MM-DD` this reset is for (today by default; the day next to it is
    accepted for a run scheduled at midnight). force: retake a day whose outcome is unknown
    (or whose run crashed), after checking that the reset did not happen. as_of: the
    instant taken as now (the sandbox's simulated clock in the demo; now by default).
    """
    logger = get_run_logger()
    run_id = current_run_id()
    result: dict[str, Any] = {
        "job": JOB, "day": day, "run_id": run_id, "forced": force, "status": "not_started",
        "sent": False, "reconciled": False, "reset_count": None, "detail": None,
    }
    claimed = False
    try:
        try:
            key = daily_key(day, as_of or datetime.now(UTC))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        result["day"] = key
        outbound.require_emboux_token()
        claim = await outbound.claim_key(JOB, key, run_id, force)
        if not claim["won"]:
            return await CALL.not_claimed(result, claim)
        claimed = True
        # A few domains' counters before the call: after a lost answer they tell an applied
        # reset (lower) from one that never happened (as high or higher).
        try:  # not retried: the reset must not wait for them
            witnesses = await outbound.read_counters.with_options(retries=0)(WITNESSES)
        except MailopsError as exc:  # only a lost answer needs them: reset all the same
            logger.warning("outbound-reset-daily %s: no counters read before the call (%s)",
                           key, exc)
            witnesses = []
        for call in range(1, MAX_CALLS + 1):
            answer = await outbound.post_reset_daily()
            if answer["outcome"] == outbound.REFUSED:
                # Refused before any work: not applied (nor was an earlier ambiguous call).
                result["status"] = "failed"
                await outbound.finish_key(JOB, key, run_id, LedgerStatus.FAILED, answer["error"])
                claimed = False
                return await CALL.failed(result, answer["error"])
            result["sent"] = True
            if answer["outcome"] == outbound.APPLIED:
                result["reset_count"] = answer["reset_count"]
                detail = f"reset {answer['reset_count']} domains"
                await outbound.finish_key(JOB, key, run_id, LedgerStatus.DONE, detail)
                claimed = False
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
                await outbound.finish_key(JOB, key, run_id, LedgerStatus.DONE, detail)
                claimed = False
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
                message = (f"reset-daily for {key} was not applied after {MAX_CALLS} calls "
                           "whose answers were lost; a later run may try again")
                await outbound.finish_key(JOB, key, run_id, LedgerStatus.FAILED, message)
                claimed = False
                result.update(status="failed", sent=False)
                return await CALL.failed(result, message)
            break
        message = (
            f"the reset of {key} may or may not have been applied: {decision.reason}. "
            "Check the counters; if it was not applied, run again with --force"
        )
        await outbound.finish_key(JOB, key, run_id, LedgerStatus.UNKNOWN, message)
        claimed = False
        result["status"] = "unknown"
        await outbound.raise_alert(
            date.fromisoformat(key), JOB, "reset_outcome_unknown", f"{JOB} {key}", message
        )
        return await CALL.failed(result, message)
    except MailopsError as exc:
        message = f"outbound-reset-daily stopped: {exc}"
        if claimed:
            message = await CALL.release(result, run_id, message)
        return await CALL.failed(result, message)


if __name__ == "__main__":
    asyncio.run(outbound_reset_daily())
