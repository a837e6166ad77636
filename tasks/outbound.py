"""Tasks of outbound-reset-daily and billing-freeze: ledger, counter reads, the two resets.

Reads are retried (only failures that may pass: a server down, a rate limit, a busy
database). The two POSTs are never retried by Prefect: a resend could reset twice. They
return what happened (`applied`, `ambiguous` or `refused`) instead of raising, so the flow
can reconcile an ambiguous answer from the remote counters.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from mailops.emboux import EmbouxClient, Outbound
from mailops.errors import (
    ApiError,
    AuthError,
    BadNameError,
    ConfigError,
    MailopsError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    StoreError,
    UnavailableError,
)
from mailops.rules.alerts import Alert, Severity
from mailops.store import BillingRow, LedgerStatus, Store
from tasks.context import current_settings

JOB_DAILY = "outbound-reset-daily"
JOB_MONTHLY = "billing-freeze"

APPLIED = "applied"
AMBIGUOUS = "ambiguous"
REFUSED = "refused"

_TRANSIENT = (UnavailableError, ServerError, RateLimitedError, StoreError)
_READ_RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [1, 5, 15]}


def _only_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry what may pass by itself; a rejected key or a bad answer will not."""
    return isinstance(state.data, _TRANSIENT)


def require_emboux_token() -> None:
    """Refuse to start without an EmBoux token (the resets need the master token)."""
    if current_settings().emboux_api_key is None:
        raise ConfigError(
            "MAILOPS_EMBOUX_API_KEY is not set; the counter resets need the EmBoux master token"
        )


def describe_refusal(exc: MailopsError, call: str) -> str:
    """One line for a refused reset; a 403 says which token is needed."""
    if isinstance(exc, AuthError) and exc.status == 403:
        return (
            f"{call} needs the EmBoux master token, and the configured token "
            f"(MAILOPS_EMBOUX_API_KEY) is not one: EmBoux refused it (403). Nothing was reset."
        )
    return f"{call} was refused, so nothing was reset: {exc}"


# --- the run ledger -----------------------------------------------------------------------


@task(retries=0, cache_policy=NO_CACHE)
async def claim_key(job: str, key: str, run_id: str, force: bool) -> dict[str, Any]:
    """Claim the job's key in the ledger before the call; a forced run retakes unknown keys."""
    retake = {LedgerStatus.FAILED}
    if force:
        retake |= {LedgerStatus.UNKNOWN, LedgerStatus.STARTED}
    with Store(current_settings().database_url) as store:
        store.upgrade()
        claim = store.claim(job, key, run_id, retake=frozenset(retake))
    entry = claim.entry
    return {
        "won": claim.won,
        "status": entry.status.value,
        "run_id": entry.run_id,
        "attempts": entry.attempts,
        "detail": entry.detail,
        "finished_at": entry.finished_at.isoformat() if entry.finished_at else None,
    }


@task(cache_policy=NO_CACHE, retry_condition_fn=_only_transient, **_READ_RETRIES)
async def finish_key(job: str, key: str, run_id: str, status: str, detail: str) -> None:
    """Record the outcome of the claimed call: done, failed or unknown."""
    with Store(current_settings().database_url) as store:
        store.finish(job, key, run_id, LedgerStatus(status), detail)


# --- remote reads -------------------------------------------------------------------------


async def _read_one(client: EmbouxClient, name: str) -> Outbound | None:
    try:
        return await client.outbound(name)
    except NotFoundError:
        return None  # deleted since it was listed: it has no counters left to read
    except BadNameError as exc:  # listed, but no URL can name it: EmBoux's reset still counts it
        get_run_logger().warning("%s", exc)
        return None


@task(cache_policy=NO_CACHE, retry_condition_fn=_only_transient, **_READ_RETRIES)
async def read_counters(limit: int | None = None) -> list[dict[str, Any]]:
    """Every domain's outbound counters (or the first `limit` listed), read concurrently (the
    HTTP layer bounds it)."""
    async with EmbouxClient.from_settings(current_settings()) as client:
        domains = (await client.domains())[:limit]
        found = await asyncio.gather(*(_read_one(client, d.name) for d in domains))
    rows = []
    for summary, outbound in zip(domains, found, strict=True):
        if outbound is None:
            continue
        rows.append({
            "domain": outbound.name,
            "partner_ref": summary.partner_ref,
            "outbound_sent_today": outbound.outbound_sent_today,
            "outbound_sent_month": outbound.outbound_sent_month,
            "outbound_monthly_limit": outbound.outbound_monthly_limit,
            "outbound_enforcement": outbound.outbound_enforcement,
            "bounce_count": outbound.bounce_count,
            "complaint_count": outbound.complaint_count,
            "bounce_rate": outbound.bounce_rate,
            "complaint_rate": outbound.complaint_rate,
        })
    return rows


# --- the two resets (never retried) -------------------------------------------------------


def _ambiguous(exc: MailopsError) -> bool:
    """Sent and maybe applied: the answer was lost, cut, or unreadable."""
    return isinstance(exc, OutcomeUnknownError | ResponseFormatError)


@task(retries=0, cache_policy=NO_CACHE)
async def post_reset_daily() -> dict[str, Any]:
    """Call `POST /outbound/reset-daily` once and say what is known of its outcome."""
    try:
        async with EmbouxClient.from_settings(current_settings()) as client:
            answer = await client.reset_daily()
    except ApiError as exc:
        if _ambiguous(exc):
            return {"outcome": AMBIGUOUS, "error": str(exc)}
        return {"outcome": REFUSED, "error": describe_refusal(exc, "reset-daily")}
    return {"outcome": APPLIED, "reset_count": answer.reset_count}


@task(retries=0, cache_policy=NO_CACHE)
async def post_reset_monthly() -> dict[str, Any]:
    """Call `POST /outbound/reset-monthly` once; when applied, answer the frozen rows."""
    try:
        async with EmbouxClient.from_settings(current_settings()) as client:
            answer = await client.reset_monthly()
    except ApiError as exc:
        if _ambiguous(exc):
            return {"outcome": AMBIGUOUS, "error": str(exc)}
        return {"outcome": REFUSED, "error": describe_refusal(exc, "reset-monthly")}
    return {
        "outcome": APPLIED,
        "reset_count": answer.reset_count,
        "frozen": [row.model_dump() for row in answer.frozen],
    }


# --- billing store ------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, retry_condition_fn=_only_transient, **_READ_RETRIES)
async def save_snapshot(period: str, run_id: str, rows: list[dict[str, Any]]) -> int:
    """Keep the counters read before the monthly reset as the period's snapshot."""
    with Store(current_settings().database_url) as store:
        return store.save_billing_snapshot(period, run_id, [BillingRow.from_dict(r) for r in rows])


@task(cache_policy=NO_CACHE, retry_condition_fn=_only_transient, **_READ_RETRIES)
async def complete_freeze(
    period: str, run_id: str, rows: list[dict[str, Any]], detail: str
) -> int:
    """Store the period's billing rows and the ledger's done in one transaction."""
    with Store(current_settings().database_url) as store:
        return store.complete_billing_freeze(
            JOB_MONTHLY, period, run_id, [BillingRow.from_dict(r) for r in rows], detail
        )


@task(cache_policy=NO_CACHE, retry_condition_fn=_only_transient, **_READ_RETRIES)
async def billed_count(period: str) -> int:
    """How many billing rows a period has (for a run that finds it already done)."""
    with Store(current_settings().database_url) as store:
        return len(store.billing_rows(period))


# --- alerts and artifacts -----------------------------------------------------------------


@task(cache_policy=NO_CACHE, retry_condition_fn=_only_transient, **_READ_RETRIES)
async def raise_alert(day: date, job: str, key: str, subject: str, message: str) -> None:
    """Store a critical alert: a reset's outcome is unknown and needs a person."""
    alert = Alert(key, Severity.CRITICAL, subject, message)
    with Store(current_settings().database_url) as store:
        store.save_alerts(day, job, [alert])
    get_run_logger().warning("alert %s for %s: %s", key, subject, message)


@task(cache_policy=NO_CACHE)
async def publish_outcome(key: str, description: str, summary: dict[str, Any]) -> None:
    """Show the run's outcome as a table in the Prefect UI."""
    rows = [
        {"field": name, "value": str(value)}
        for name, value in summary.items()
        if not isinstance(value, list | dict)
    ]
    await acreate_table_artifact(key=key, table=rows, description=description)
