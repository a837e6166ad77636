"""credential-rotation: rotate tenants' provider credentials into Prefect Secret blocks.

Which domains: the `domains` parameter, or (when empty, as scheduled) every domain whose
credential mailops installed before (the store remembers where each one is kept; EmBoux
cannot list them). Dry run by default. The password is received, stored and dropped inside
one task (`tasks.domains.rotate_and_store`): it is never a parameter, return value, log line,
artifact or database value. The audit log records that a rotation happened, not its value.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Failed, State

import tasks.domains as domain_tasks
from flows.ending import gated_end, stopped
from flows.run_form import run_form
from mailops import jobs
from mailops.domains import CredentialRotationResult, PlannedRotation, Rotation
from mailops.errors import ConfigError, MailopsError
from mailops.gate import NOTHING, decide_without_asking, dry_run
from mailops.jsonable import to_jsonable
from mailops.rules.domains import normalise
from tasks.approval import approval_required, request_approval
from tasks.context import current_run_id, current_settings, require_emboux_token


@run_form
@flow(name=jobs.CREDENTIAL_ROTATION, log_prints=False)
async def credential_rotation(
    domains: tuple[str, ...] = (),
    apply: bool = False,
    as_of: datetime | None = None,
) -> CredentialRotationResult | State:
    """Rotate EmBoux provider credentials into Prefect Secret blocks, never showing them.

    Args:
        domains: The domains whose credential to rotate; empty rotates every domain whose
            credential mailops installed before.
        apply: Rotate. Under a deployment the run first pauses until a person approves the
            list in the Prefect UI; off, a dry run lists what it would do.
        as_of: The instant taken as now (for the audit rows and alerts); by default now.
    """
    logger = get_run_logger()
    run_id = current_run_id()
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    result = CredentialRotationResult(run_id, apply)
    rotations: list[Rotation] = []
    try:
        try:
            targets = [normalise(d) for d in domains] if domains else []
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        require_emboux_token(domain_tasks.NO_TOKEN)
        targets = targets or domain_tasks.domains_with_credentials()
        result = replace(result, planned=[
            PlannedRotation(d, f"POST /domains/{d}/provider-credential",
                            domain_tasks.credential_location(d))
            for d in targets
        ])
        if not apply or not targets:
            result = replace(result, status="planned" if targets else "nothing_to_do")
            logger.info("credential-rotation (dry run): %d domain(s)", len(targets))
            return gated_end(result, dry_run(len(targets)) if not apply else NOTHING, logger)
        decision = decide_without_asking(len(targets), len(targets),
                                         approval_required=approval_required())
        if decision is None:
            plan = "\n".join(f"- rotate `{p.domain}` into {p.store_in}"
                             for p in result.planned)
            decision = await request_approval(
                domain_tasks.ROTATION, run_id, f"# Credential rotation\n\n{plan}",
                to_jsonable(result.planned))
            if decision.refusal is not None:
                result = replace(result, status="rejected")
                return gated_end(result, decision, logger)
        for domain in targets:
            rotations.append(await domain_tasks.rotate_and_store(domain, run_id, moment))
            result = replace(result, rotations=list(rotations))
        day = moment.astimezone(current_settings().zone).date()
        domain_tasks.alert_rotation(day, result.rotations)
    except MailopsError as exc:
        message = stopped(exc, jobs.CREDENTIAL_ROTATION)
        logger.error(message)
        return Failed(message=message, data=result)
    domain_tasks.publish_rotation(result.rotations)
    problems = [r.error or r.status for r in result.rotations if r.needs_a_person]
    result = replace(result, status="done" if not problems else "failed")
    for rotation in result.rotations:
        logger.info("credential-rotation %s: %s (%s)", rotation.domain, rotation.status,
                    rotation.location or "not stored")
    failure = (f"{len(problems)} rotation(s) need attention: " + "; ".join(problems)
               if problems else None)
    return gated_end(result, decision, logger, failure=failure)


if __name__ == "__main__":
    asyncio.run(credential_rotation())
