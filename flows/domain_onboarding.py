"""domain-onboarding: start verification of a domain (or register a subdomain under its
parent), store the DNS records it must publish and post them to Slack.

Dry run by default: shows the call it would make.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Failed, State

import tasks.domains as domain_tasks
from flows.ending import stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.domains import DomainOnboardingResult, planned_calls
from mailops.errors import ConfigError, MailopsError
from mailops.public_suffix import registrable_domain
from mailops.rules.domains import normalise, parent_of
from tasks.context import require_emboux_token


@run_form
@flow(name=jobs.DOMAIN_ONBOARDING, log_prints=False)
async def domain_onboarding(
    name: str, apply: bool = False, as_of: datetime | None = None, notify: bool = True
) -> DomainOnboardingResult | State:
    """Start verification of one domain, store the DNS records to publish and post them.

    Args:
        name: The domain or subdomain to onboard; a name longer than its registrable domain
            by the Public Suffix List (news.example.com, not shop.co.uk) is registered as a
            subdomain of its parent.
        apply: Make the call to EmBoux; off, a dry run shows the call.
        as_of: The instant taken as now; by default now.
        notify: Post the DNS records to Slack.
    """
    logger = get_run_logger()
    result = DomainOnboardingResult(name, apply)
    try:
        try:
            domain = normalise(name)
            parent = parent_of(domain, registrable_domain)  # a public suffix is refused
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        result = replace(result, domain=domain, parent=parent, calls=planned_calls(domain))
        require_emboux_token(domain_tasks.NO_TOKEN)
        if not apply:
            result = replace(result, status="planned")
            logger.info("domain-onboarding %s (dry run): would call %s", domain,
                        "; ".join(result.calls))
            return result
        moment = (as_of or datetime.now(UTC)).astimezone(UTC)
        try:
            record = await domain_tasks.onboard_domain(domain, moment)
        except MailopsError as exc:
            raise MailopsError(domain_tasks.explain(exc, result.calls[0])) from None
    except MailopsError as exc:
        message = stopped(exc, jobs.DOMAIN_ONBOARDING)
        logger.error(message)
        return Failed(message=message, data=result)
    result = replace(result, status=record.status, parent=record.parent, record=record)
    domain_tasks.publish_records(record)
    if notify:
        delivered, error = domain_tasks.notify_onboarding(record)
        result = replace(result, notification=delivered)
        if error is not None:
            message = f"the records were stored but not posted ({error})"
            logger.error(message)
            return Failed(message=message, data=result)
    logger.info("domain-onboarding %s: %s, %d records", domain, result.status,
                len(record.dns_records))
    return result


if __name__ == "__main__":
    import sys

    asyncio.run(domain_onboarding(sys.argv[1]))
