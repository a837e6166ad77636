"""Tasks of outbound-reset-daily and billing-freeze: ledger, counter reads, the two resets.

Reads are retried (only failures that may pass: a server down, a rate limit, a busy
database). The two POSTs are never retried by Prefect: a resend could reset twice. They
return what happened (`applied`, `ambiguous` or `refused`) instead of raising, so the flow
can reconcile an ambiguous answer from the remote counters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import Task, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from mailops import jobs
from mailops.emboux import EmbouxClient, master_token_refusal
from mailops.errors import (
    ApiError,
    BadNameError,
    MailopsError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    StoreError,
    UnavailableError,
)
from mailops.jsonable import from_jsonable, to_jsonable
from mailops.models.emboux import FrozenCounters, Outbound, ResetMonthly
from mailops.process import start_marker, this_holder
from mailops.report.escape import visible_values
from mailops.resets import DomainCounters
from mailops.rules.alerts import Alert, Severity
from mailops.rules.resets import HolderState, holder_state
from mailops.spool_import import SpoolImport
from mailops.store import BillingRow, Holder, LedgerEntry, LedgerStatus, Store
from tasks.context import current_settings
from tasks.define import task
from tasks.spool import import_pending, spool_folder

JOB_DAILY = jobs.OUTBOUND_RESET_DAILY
JOB_MONTHLY = jobs.BILLING_FREEZE

APPLIED = "applied"
AMBIGUOUS = "ambiguous"
REFUSED = "refused"

_TRANSIENT = (UnavailableError, ServerError, RateLimitedError, StoreError)
_READ_RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [1, 5, 15]}


def _only_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry what may pass by itself; a rejected key or a bad answer will not."""
    return isinstance(state.data, _TRANSIENT)


# Why a reset does not start without an EmBoux token (`require_emboux_token`).
NO_TOKEN = "MAILOPS_EMBOUX_API_KEY is not set; the counter resets need the EmBoux master token"


def describe_refusal(exc: MailopsError, call: str) -> str:
    """One line for a refused reset; a 403 says which token is needed."""
    return (master_token_refusal(exc, call, "Nothing was reset.")
            or f"{call} was refused, so nothing was reset: {exc}")


# --- the run ledger -----------------------------------------------------------------------


LEASE = timedelta(seconds=120)  # a holder on another host is taken for dead this long after
RENEW_EVERY_SECONDS = 30.0  # its last renewal; renewed this often while it works


@dataclass(frozen=True)
class KeyClaim:
    """A claim's outcome for the flow: `won`, the row as it is, the row this run retook (its
    call may have been sent: reconcile first), and what is known of a holder that is not us."""

    won: bool
    entry: LedgerEntry
    previous: LedgerEntry | None = None
    holder: HolderState | None = None
    holder_reason: str | None = None


def _holder_of(entry: LedgerEntry, me: Holder, now: datetime) -> tuple[HolderState, str]:
    held = entry.holder
    token_now = start_marker(held.pid) if held is not None and held.host == me.host else None
    return holder_state(
        host=held.host if held else None, pid=held.pid if held else None,
        token=held.token if held else None, lease_until=entry.lease_until, here=me.host,
        token_now=token_now, now=now,
    )


@task(retries=0)
async def claim_key(job: str, key: str, run_id: str, force: bool) -> KeyClaim:
    """Claim the job's key in the ledger before the call. A failed key is retaken; a forced run
    retakes an unknown one; a key whose holder is dead (its process gone from this host, or
    its lease run out on another) is retaken by any run, and one whose holder is alive never."""
    retake = {LedgerStatus.FAILED} | ({LedgerStatus.UNKNOWN} if force else set())
    me, now = this_holder(), datetime.now(UTC)
    with Store(current_settings().database_url) as store:
        store.upgrade()
        claim = store.ledger.claim(job, key, run_id, holder=me, lease_until=now + LEASE,
                            retake=frozenset(retake))
        if claim.won or claim.entry.status is not LedgerStatus.STARTED:
            return KeyClaim(claim.won, claim.entry, claim.previous)
        state, why = _holder_of(claim.entry, me, now)
        if state is HolderState.ALIVE or (state is HolderState.UNKNOWN and not force):
            return KeyClaim(False, claim.entry, holder=state, holder_reason=why)
        taken = store.ledger.claim(job, key, run_id, holder=me, lease_until=now + LEASE,
                            retake=frozenset({LedgerStatus.STARTED}), expect=claim.entry)
    get_run_logger().warning("%s %s: run %s held the key and %s; %s", job, key,
                             claim.entry.run_id, why,
                             "retaken" if taken.won else "another run retook it first")
    return KeyClaim(taken.won, taken.entry, taken.previous, holder=state, holder_reason=why)


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def ledger_entries(job: str, keys: list[str]) -> list[LedgerEntry | None]:
    """The ledger's rows for a job's keys (None where there is none), in one store session."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        return [store.ledger.entry(job, key) for key in keys]


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def record_call(job: str, key: str, run_id: str, evidence: str | None) -> None:
    """Write, just before the request leaves, that it may be applied from now on and what
    tells whether it was (the counters read before it)."""
    with Store(current_settings().database_url) as store:
        store.ledger.record_call(job, key, run_id, evidence)


@asynccontextmanager
async def holding(job: str, key: str, run_id: str) -> AsyncIterator[None]:
    """Renew this run's lease on the key while the body runs (a call that waits on a slow
    server, a reconciliation): a run on another host sees the holder alive until it stops."""
    url = current_settings().database_url

    def renew() -> None:
        with Store(url) as store:
            store.ledger.renew(job, key, run_id, datetime.now(UTC) + LEASE)

    async def keep_renewing() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_SECONDS)
            try:
                await asyncio.to_thread(renew)
            except MailopsError as exc:  # the next renewal may pass; the lease is generous
                get_run_logger().warning("%s %s: lease not renewed (%s)", job, key, exc)

    renewer = asyncio.create_task(keep_renewing())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def finish_key(job: str, key: str, run_id: str, status: str, detail: str) -> None:
    """Record the outcome of the claimed call: done, failed or unknown."""
    with Store(current_settings().database_url) as store:
        store.ledger.finish(job, key, run_id, LedgerStatus(status), detail)


# --- remote reads -------------------------------------------------------------------------


async def _read_one(client: EmbouxClient, name: str) -> Outbound | None:
    try:
        return await client.outbound(name)
    except NotFoundError:
        return None  # deleted since it was listed: it has no counters left to read
    except BadNameError as exc:  # listed, but no URL can name it: EmBoux's reset still counts it
        get_run_logger().warning("%s", exc)
        return None


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def read_counters(limit: int | None = None) -> list[DomainCounters]:
    """Every domain's outbound counters (or the first `limit` listed), read concurrently (the
    HTTP layer bounds it)."""
    async with EmbouxClient.from_settings(current_settings()) as client:
        domains = (await client.domains())[:limit]
        found = await asyncio.gather(*(_read_one(client, d.name) for d in domains))
    return [
        DomainCounters(outbound.outbound_sent_today, BillingRow(
            outbound.name, summary.partner_ref, outbound.outbound_sent_month,
            outbound.outbound_monthly_limit, outbound.outbound_enforcement,
            outbound.bounce_count, outbound.complaint_count, outbound.bounce_rate,
            outbound.complaint_rate, source="snapshot",
        ))
        for summary, outbound in zip(domains, found, strict=True)
        if outbound is not None
    ]


# --- the two resets (never retried) -------------------------------------------------------


def _ambiguous(exc: MailopsError) -> bool:
    """Sent and maybe applied: the answer was lost, cut, or unreadable."""
    return isinstance(exc, OutcomeUnknownError | ResponseFormatError)


@dataclass(frozen=True)
class ResetAnswer:
    """What is known of one reset call: `outcome` (applied, ambiguous or refused), the
    error of one that was not applied, and an applied one's count and frozen counters."""

    outcome: str
    error: str = ""
    reset_count: int = 0
    frozen: tuple[FrozenCounters, ...] = ()


async def _post_reset(call: str, send: Callable[[EmbouxClient], Awaitable[Any]]) -> ResetAnswer:
    """Send one reset (`call` names it in a refusal) and say what is known of its outcome."""
    try:
        async with EmbouxClient.from_settings(current_settings()) as client:
            answer = await send(client)
    except ApiError as exc:
        if _ambiguous(exc):
            return ResetAnswer(AMBIGUOUS, str(exc))
        return ResetAnswer(REFUSED, describe_refusal(exc, call))
    return ResetAnswer(APPLIED, reset_count=answer.reset_count,
                       frozen=tuple(answer.frozen) if isinstance(answer, ResetMonthly) else ())


@task(retries=0)
async def post_reset_daily() -> ResetAnswer:
    """Call `POST /outbound/reset-daily` once and say what is known of its outcome."""
    return await _post_reset("reset-daily", lambda client: client.reset_daily())


@task(retries=0)
async def post_reset_monthly() -> ResetAnswer:
    """Call `POST /outbound/reset-monthly` once; when applied, answer the frozen rows."""
    return await _post_reset("reset-monthly", lambda client: client.reset_monthly())


# --- billing store ------------------------------------------------------------------------


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def save_snapshot(period: str, run_id: str, rows: list[BillingRow]) -> int:
    """Keep the counters read before the monthly reset as the period's snapshot."""
    with Store(current_settings().database_url) as store:
        return store.billing.save_snapshot(period, run_id, rows)


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def stored_snapshot(period: str) -> list[BillingRow]:
    """The period's snapshot as stored before its last call (a dead run's evidence)."""
    with Store(current_settings().database_url) as store:
        return store.billing.snapshot(period)


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def complete_freeze(period: str, run_id: str, rows: list[BillingRow], detail: str) -> int:
    """Store the period's billing rows and the ledger's done in one transaction."""
    with Store(current_settings().database_url) as store:
        return store.billing.complete_freeze(JOB_MONTHLY, period, run_id, rows, detail)


FREEZE_SPOOL_VERSION = 1  # the shape of a spooled reset-monthly answer


@task(retries=2, retry_delay_seconds=[1, 5])
async def spool_freeze(period: str, run_id: str, rows: list[BillingRow], detail: str) -> str:
    """Keep a period's billing rows the store could not take in a spool file (the reset was
    applied: these rows exist nowhere else); returns its path."""
    payload = {"version": FREEZE_SPOOL_VERSION, "job": JOB_MONTHLY, "period": period,
               "run_id": run_id, "detail": detail, "rows": to_jsonable(rows)}
    return str(spool_folder().write(JOB_MONTHLY, f"{period}-{run_id}", payload))


def _import_freeze(store: Store, payload: dict[str, Any]) -> None:
    if payload.get("version") != FREEZE_SPOOL_VERSION or payload.get("job") != JOB_MONTHLY:
        raise ValueError(f"not a {JOB_MONTHLY} spool of version {FREEZE_SPOOL_VERSION}")
    rows = from_jsonable(list[BillingRow], payload["rows"])
    detail = f"{payload['detail']} (imported from the spool)"
    store.billing.complete_freeze(JOB_MONTHLY, payload["period"], payload["run_id"], rows,
                                  detail, whoever_holds=True)


@task()
async def import_spooled_freezes() -> SpoolImport:
    """Import the billing rows of every freeze whose store write failed, before claiming:
    its period becomes done, so no run reconciles or calls it again."""
    return import_pending(JOB_MONTHLY, _import_freeze)


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def billed_count(period: str) -> int:
    """How many billing rows a period has (for a run that finds it already done)."""
    with Store(current_settings().database_url) as store:
        return len(store.billing.rows(period))


# --- alerts and artifacts -----------------------------------------------------------------


@task(retry_condition_fn=_only_transient, **_READ_RETRIES)
async def raise_alert(day: date, job: str, key: str, subject: str, message: str) -> None:
    """Store a critical alert: a reset's outcome is unknown and needs a person."""
    alert = Alert(key, Severity.CRITICAL, subject, message)
    with Store(current_settings().database_url) as store:
        store.alerts.save(day, job, [alert])
    get_run_logger().warning("alert %s for %s: %s", key, subject, message)


@task()
async def publish_outcome(key: str, description: str, result: object) -> None:
    """Show the run's outcome (its typed result, by its JSON fields) as a table in the
    Prefect UI."""
    rows = [
        {"field": name, "value": str(value)}
        for name, value in to_jsonable(result).items()
        if not isinstance(value, list | dict)
    ]
    await acreate_table_artifact(key=key, table=visible_values(rows), description=description)
