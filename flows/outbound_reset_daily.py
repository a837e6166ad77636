"""outbound-reset-daily: `POST /outbound/reset-daily` exactly once per UTC day.

The ledger claim comes before the call, so a second run the same day sends nothing. A lost
answer is never resent: the flow reads the counters (all `outbound_sent_today` at zero means
the reset was applied); when it cannot tell, the day is marked unknown, an alert is stored,
and only a forced run (`force=True`, after a person checked) may reset again.
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
        answer = await outbound.post_reset_daily()
        if answer["outcome"] == outbound.REFUSED:
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
        decision = reconcile_daily({r["domain"]: r["outbound_sent_today"] for r in counters})
        result.update(reconciled=True, detail=decision.reason)
        if decision.outcome is ResetOutcome.APPLIED:
            detail = f"answer lost ({answer['error']}); reconciled: {decision.reason}"
            await outbound.finish_key(JOB, key, run_id, LedgerStatus.DONE, detail)
            claimed = False
            result["status"] = "done"
            logger.info("outbound-reset-daily %s: done (%s)", key, decision.reason)
            return await CALL.published(result)
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
