"""Outcome handling shared by the flows that make one ledger-guarded call per key.

outbound-reset-daily (a UTC day) and billing-freeze (a month) both claim their key in the
ledger, make one non-idempotent call, and end in the same few ways: already done by another
run, refused, unknown, or stopped part-way. This keeps those endings, their messages, the
ledger's last word and the outcome artifact in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from prefect import get_run_logger
from prefect.states import Failed, State

import tasks.outbound as outbound
from mailops.errors import MailopsError
from mailops.rules.resets import HolderState
from mailops.store import LedgerEntry, LedgerStatus

Result = dict[str, Any]


@dataclass(frozen=True)
class KeyedCall:
    """One job's ledger-guarded call: `job`, the result field holding its key, and what the
    call is called in messages ("reset", "monthly reset")."""

    job: str
    key_field: str
    what: str

    def key(self, result: Result) -> str:
        return str(result[self.key_field])

    def alert_day(self, key: str) -> date:
        """The day an alert about `key` is stored under: the key's own day, else today."""
        try:
            return date.fromisoformat(key)
        except ValueError:
            return datetime.now(UTC).date()

    @staticmethod
    def maybe_applied(previous: LedgerEntry | None) -> bool:
        """A retaken claim whose call may have been applied: sent by a run that died, or
        left unknown (a `failed` one was provably not applied; a call never recorded never
        left)."""
        return (previous is not None and previous.called_at is not None
                and previous.status in (LedgerStatus.STARTED, LedgerStatus.UNKNOWN))

    async def release(self, result: Result, run_id: str, message: str) -> str:
        """Leave the ledger honest after an unexpected stop: unknown once the call was sent."""
        status = LedgerStatus.UNKNOWN if result["sent"] else LedgerStatus.FAILED
        result["status"] = status.value
        key = self.key(result)
        try:
            await outbound.finish_key(self.job, key, run_id, status, message)
            if status is LedgerStatus.UNKNOWN:
                await outbound.raise_alert(
                    self.alert_day(key), self.job, "reset_outcome_unknown", f"{self.job} {key}",
                    message,
                )
        except MailopsError as exc:
            message += f" (and the ledger could not record it: {exc})"
        return message

    async def not_claimed(
        self,
        result: Result,
        claim: outbound.KeyClaim,
        when_done: Callable[[], Awaitable[Result]] | None = None,
    ) -> Result | State:
        """Another run holds the key: done already (nothing to do), unknown, or running."""
        key, entry = self.key(result), claim.entry
        if entry.status is LedgerStatus.DONE:
            result.update(status="already_done", detail=entry.detail)
            if when_done is not None:
                result.update(await when_done())
            get_run_logger().info(
                "%s %s: already done by run %s; nothing sent", self.job, key, entry.run_id
            )
            return await self.published(result)
        result["status"] = entry.status.value
        if entry.status is LedgerStatus.UNKNOWN:
            message = (
                f"the {self.what} of {key} has an unknown outcome ({entry.detail}); "
                "nothing sent. After checking the counters, run again with --force: it "
                "reconciles first and calls only if the counters show no reset"
            )
        elif claim.holder is HolderState.UNKNOWN:
            message = (
                f"run {entry.run_id} has held the {self.what} of {key} since "
                f"{entry.started_at:%Y-%m-%d %H:%M} UTC and {claim.holder_reason}; "
                "nothing sent. If that run crashed, run again with --force: it reconciles "
                "from the counters first"
            )
        else:
            why = claim.holder_reason or "it has not finished"
            message = (
                f"run {entry.run_id} is making the {self.what} of {key} ({why}); nothing "
                "sent. A run whose holder died is retaken by the next run"
            )
        return await self.failed(result, message)

    async def published(self, result: Result) -> Result:
        await outbound.publish_outcome(
            self.job, f"{self.job} {self.key(result)}: {result['status']}", result
        )
        return result

    async def failed(self, result: Result, message: str) -> State:
        get_run_logger().error(message)
        result["error"] = message
        if result["status"] == "not_started":
            result["status"] = "failed"
        try:
            await self.published(result)
        except Exception:  # an artifact must not hide the failure itself
            get_run_logger().warning("could not publish the outcome artifact")
        return Failed(message=message, data=result)
