"""Outcome handling shared by the flows that make one ledger-guarded call per key.

outbound-reset-daily (a UTC day) and billing-freeze (a month) both claim their key in the
ledger, make one non-idempotent call, and end in the same few ways: already done by another
run, refused, unknown, or stopped part-way. This keeps those endings, their messages, the
ledger's last word and the outcome artifact in one place. A run's result
(`mailops.resets.KeyedCallResult`) is frozen; `Progress` holds the latest one, so that an
unexpected stop still leaves the ledger and the result honest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from prefect import get_run_logger
from prefect.states import Failed, State
from prefect.utilities.annotations import quote

import tasks.outbound as outbound
from flows.ending import stopped
from mailops.errors import MailopsError
from mailops.resets import KeyedCallResult
from mailops.rules.resets import HolderState
from mailops.store import LedgerEntry, LedgerStatus

R = TypeVar("R", bound=KeyedCallResult)


class Progress(Generic[R]):
    """A run's result so far (each change makes the next frozen one) and whether it holds
    its key's claim, where every ending, expected or not, reads them."""

    def __init__(self, result: R) -> None:
        self.result = result
        self.claimed = False

    def update(self, **changes: Any) -> R:
        self.result = replace(self.result, **changes)
        return self.result


@dataclass(frozen=True)
class KeyedCall:
    """One job's ledger-guarded call: `job`, what the call is called in messages ("reset",
    "monthly reset"), and what an unknown outcome's message adds about its evidence."""

    job: str
    what: str
    unknown_note: str = ""

    @staticmethod
    def key(run: Progress[Any]) -> str:
        return str(run.result.key)

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

    async def claim(self, run: Progress[R], force: bool) -> outbound.KeyClaim:
        """Claim the run's key in the ledger; `run.claimed` says whether it holds it."""
        claim = await outbound.claim_key(self.job, self.key(run), run.result.run_id, force)
        run.claimed = claim.won
        return claim

    async def holding(
        self,
        run: Progress[R],
        force: bool,
        body: Callable[[LedgerEntry | None], Awaitable[R | State]],
        when_done: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> R | State:
        """Claim the run's key and, when won, run `body` (given the entry it retook, whose
        call may have been sent) while holding it; else end as `not_claimed`."""
        claim = await self.claim(run, force)
        if not claim.won:
            return await self.not_claimed(run, claim, when_done)
        async with outbound.holding(self.job, self.key(run), run.result.run_id):
            return await body(claim.previous)

    def answer_lost(self, run: Progress[R], error: str) -> None:
        """Say that the call's answer was lost: the flow reconciles from the counters."""
        get_run_logger().warning("%s %s: %s; not resent, reconciling from the counters",
                                 self.job, self.key(run), error)

    async def finish(self, run: Progress[R], status: LedgerStatus, detail: str) -> None:
        """The ledger's last word on the claimed call: done, failed or unknown."""
        await outbound.finish_key(self.job, self.key(run), run.result.run_id, status, detail)
        run.claimed = False

    async def refused(self, run: Progress[R], error: str) -> State:
        """Refused before any work: not applied (nor was an earlier ambiguous call)."""
        run.update(status="failed", sent=False)
        await self.finish(run, LedgerStatus.FAILED, error)
        return await self.failed(run, error)

    async def unknown(self, run: Progress[R], reason: str) -> State:
        """The call may or may not have been applied: unknown in the ledger, alerted, the
        run failed."""
        key = self.key(run)
        message = (
            f"the {self.what} of {key} may or may not have been applied: {reason}. "
            f"{self.unknown_note}Check the counters; if it was not applied, run again with "
            "--force"
        )
        await self.finish(run, LedgerStatus.UNKNOWN, message)
        run.update(status="unknown")
        await outbound.raise_alert(
            self.alert_day(key), self.job, "reset_outcome_unknown", f"{self.job} {key}", message
        )
        return await self.failed(run, message)

    async def stopped(self, run: Progress[R], exc: MailopsError) -> State:
        """An unexpected stop: the run fails in one line; a held claim is released first."""
        message = stopped(exc, self.job)
        if run.claimed:
            message = await self.release(run, message)
        return await self.failed(run, message)

    async def release(self, run: Progress[R], message: str) -> str:
        """Leave the ledger honest after an unexpected stop: unknown once the call was sent."""
        status = LedgerStatus.UNKNOWN if run.result.sent else LedgerStatus.FAILED
        run.update(status=status.value)
        key = self.key(run)
        try:
            await outbound.finish_key(self.job, key, run.result.run_id, status, message)
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
        run: Progress[R],
        claim: outbound.KeyClaim,
        when_done: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> R | State:
        """Another run holds the key: done already (nothing to do), unknown, or running.
        `when_done` gives the fields a done key's result adds (billing-freeze's rows)."""
        key, entry = self.key(run), claim.entry
        if entry.status is LedgerStatus.DONE:
            run.update(status="already_done", detail=entry.detail)
            if when_done is not None:
                run.update(**await when_done())
            get_run_logger().info(
                "%s %s: already done by run %s; nothing sent", self.job, key, entry.run_id
            )
            return await self.published(run)
        run.update(status=entry.status.value)
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
        return await self.failed(run, message)

    async def published(self, run: Progress[R]) -> R:
        """The run's result, shown as the outcome artifact first."""
        result = run.result
        await outbound.publish_outcome(
            self.job, f"{self.job} {self.key(run)}: {result.status}", quote(result)
        )
        return result

    async def failed(self, run: Progress[R], message: str) -> State:
        """The run fails with `message`, its result (the error in it) as the state's data."""
        get_run_logger().error(message)
        run.update(error=message)
        if run.result.status == "not_started":
            run.update(status="failed")
        try:
            await self.published(run)
        except Exception:  # an artifact must not hide the failure itself
            get_run_logger().warning("could not publish the outcome artifact")
        return Failed(message=message, data=run.result)
