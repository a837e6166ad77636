"""verification-watch: poll every onboarded domain not yet verified, record each status
change once, report domains that became verified, alert on domains pending too long."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Failed, State

import tasks.domains as domain_tasks
from flows.ending import end_with, stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.domains import VerificationWatchResult
from mailops.errors import MailopsError
from mailops.rules.domains import pending_alerts
from tasks.context import current_settings, require_emboux_token


@run_form
@flow(name=jobs.VERIFICATION_WATCH, log_prints=False)
async def verification_watch(
    as_of: datetime | None = None, pending_alert_days: int = 3, notify: bool = True
) -> VerificationWatchResult | State:
    """Poll the verification of every onboarded domain not yet verified, alert on laggards.

    Args:
        as_of: The instant taken as now; by default now.
        pending_alert_days: Alert on a domain still unverified this many days after it was
            onboarded.
        notify: Post newly verified domains and alerts to Slack (nothing is posted when
            there are neither).
    """
    logger = get_run_logger()
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    day = None
    try:
        require_emboux_token(domain_tasks.NO_TOKEN)
        day = moment.astimezone(current_settings().zone).date()
        polled = await domain_tasks.poll_unverified(moment)
        found = pending_alerts(polled.pending, moment, pending_alert_days)
        domain_tasks.store_alerts(day, found)
    except MailopsError as exc:
        message = stopped(exc, jobs.VERIFICATION_WATCH)
        logger.error(message)
        return Failed(message=message, data=VerificationWatchResult(day))
    result = VerificationWatchResult(
        day, polled.polled, polled.changes, polled.verified, found, polled.failures,
        [p.name for p in polled.pending],
    )
    problems = [f"{f.name}: {f.error}" for f in polled.failures]
    if notify and (found or result.verified):
        delivered, error = domain_tasks.notify_watch(result)
        result = replace(result, notification=delivered)
        if error is not None:
            problems.append(f"the report was not sent ({error}); the statuses are stored")
    logger.info(
        "verification-watch %s: %d polled, %d changes, %d verified, %d pending too long",
        day, result.polled, len(result.changes), len(result.verified), len(found),
    )
    return end_with(result, problems, logger)


if __name__ == "__main__":
    asyncio.run(verification_watch())
