"""Tasks of domain-onboarding, verification-watch and credential-rotation.

The rotation's password lives only inside `rotate_and_store`: received, stored (Prefect
Secret block, or a 0600 file when no Prefect server is configured) and dropped in the same
task, so it is never a task's parameter or return value, nor in a log or artifact.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.system import Secret
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr

from mailops import jobs, prefect_server
from mailops.domains import (
    Polled,
    PollRound,
    Rotation,
    StatusChange,
    VerificationWatchResult,
    credential_file,
    onboard,
    poll,
    write_secret_file,
)
from mailops.emboux import EmbouxClient, master_token_refusal
from mailops.errors import MailopsError, OutcomeUnknownError
from mailops.report.escape import markdown_text
from mailops.report.slack import (
    SlackNotifier,
    domain_onboarding_message,
    verification_watch_message,
)
from mailops.rules.alerts import Alert, Severity
from mailops.rules.domains import PendingDomain, secret_block_name
from mailops.store import Change, DomainRecord, Store
from tasks.context import current_settings, outbox_name
from tasks.define import task

ONBOARDING = jobs.DOMAIN_ONBOARDING
WATCH = jobs.VERIFICATION_WATCH
ROTATION = jobs.CREDENTIAL_ROTATION


# Why a domain job does not start without an EmBoux token (`require_emboux_token`).
NO_TOKEN = "MAILOPS_EMBOUX_API_KEY is not set: the domain jobs need an EmBoux token"


def explain(exc: MailopsError, call: str) -> str:
    """One line for a refused call; a 403 says the master token is needed."""
    return master_token_refusal(exc, call, "Nothing was changed.") or f"{call} failed: {exc}"


# --- domain-onboarding ----------------------------------------------------------------------


@task(retries=1, retry_delay_seconds=2)
async def onboard_domain(name: str, as_of: datetime) -> DomainRecord:
    """Start verification (or register the subdomain) and store the records to publish.

    Repeating `verify` or `register-subdomain` answers the same records, so a retry is safe.
    """
    settings = current_settings()
    async with EmbouxClient.from_settings(settings) as client:
        record = await onboard(client, name, as_of)
    with Store(settings.database_url) as store:
        store.upgrade()
        store.domains.save_onboarded(record)
    return record


@task()
def publish_records(record: DomainRecord) -> None:
    """The records to publish as a table in the Prefect UI."""
    lines = [f"# DNS records for {markdown_text(record.name)}", "",
             "| type | name | value |", "|---|---|---|"]
    lines += [
        f"| {markdown_text(r['type'])} | {markdown_text(r['name'])} | {markdown_text(r['value'])} |"
        for r in record.dns_records
    ]
    create_markdown_artifact(
        key="domain-onboarding-records", markdown="\n".join(lines),
        description=f"DNS records of {record.name}",
    )


def _post(message: dict[str, Any], name: str) -> tuple[str | None, str | None]:
    try:
        delivery = SlackNotifier.from_settings(current_settings()).post(message, name=name)
    except MailopsError as exc:
        return None, str(exc)
    return delivery.describe(), None


@task()
def notify_onboarding(record: DomainRecord) -> tuple[str | None, str | None]:
    """Post the records table to Slack: (where it went, or why not)."""
    return _post(domain_onboarding_message(record), outbox_name(ONBOARDING, record.name))


# --- verification-watch ---------------------------------------------------------------------


@task(retries=1, retry_delay_seconds=2)
async def poll_unverified(as_of: datetime) -> PollRound:
    """Poll every onboarded, unverified domain; store each status change once."""
    settings = current_settings()
    with Store(settings.database_url) as store:
        store.upgrade()
        waiting = [d for d in store.domains.onboarded() if not d.verified]
    async with EmbouxClient.from_settings(settings) as client:
        polled = await poll(client, [d.name for d in waiting])
    changes: list[StatusChange] = []
    verified: list[str] = []
    failures: list[Polled] = []
    with Store(settings.database_url) as store:
        for answer in polled:
            if answer.status is None:
                failures.append(answer)
                continue
            status = answer.status
            if store.domains.record_status(
                answer.name, status.verification_status, status.verified, as_of
            ):
                changes.append(StatusChange(answer.name, status.verification_status, as_of))
            if status.verified:
                verified.append(answer.name)
    pending = [
        PendingDomain(d.name, d.status, d.onboarded_at,
                      tuple(f"{r['type']} {r['name']} {r['value']}" for r in d.dns_records))
        for d in _still_pending(settings.database_url, {d.name for d in waiting})
    ]
    return PollRound(len(polled), changes, verified, failures, pending)


def _still_pending(database_url: str, names: set[str]) -> list[DomainRecord]:
    with Store(database_url) as store:
        return [d for d in store.domains.onboarded() if d.name in names and not d.verified]


@task()
def store_alerts(day: date, found: list[Alert]) -> None:
    """Store the day's pending-too-long alerts (a re-run of the day replaces them)."""
    with Store(current_settings().database_url) as store:
        store.alerts.save(day, WATCH, found)


@task()
def notify_watch(result: VerificationWatchResult) -> tuple[str | None, str | None]:
    """Post the newly verified and the pending-too-long domains: (where it went, or why not)."""
    return _post(verification_watch_message(result), outbox_name(WATCH, str(result.day)))


# --- credential-rotation --------------------------------------------------------------------


def prefect_server_configured() -> bool:
    """A Prefect server to keep Secret blocks in (PREFECT_API_URL set); else files.

    The local server of hand runs (mailops.prefect_server) is not one: its database is a
    file any local user may read, so a hand run keeps the password in its 0600 file, as it
    did before that server existed."""
    url = PREFECT_API_URL.value()
    return bool(url) and not prefect_server.serves(Path(current_settings().data_dir), url)


def credential_location(domain: str) -> str:
    """Where the domain's credential goes: a Secret block, or a 0600 file."""
    if prefect_server_configured():
        return f"prefect-secret:{secret_block_name(domain)}"
    return f"file:{credential_file(current_settings().data_dir, domain)}"


async def _keep(domain: str, password: SecretStr) -> tuple[str | None, str | None]:
    """Store the password: the Secret block, else (or when that fails) the 0600 file."""
    problem = None
    if prefect_server_configured():
        block = secret_block_name(domain)
        try:
            await Secret(value=password.get_secret_value()).asave(block, overwrite=True)
            return f"prefect-secret:{block}", None
        except Exception as exc:  # any failure of the server: fall back to the file
            problem = f"the Secret block {block} could not be saved ({type(exc).__name__})"
    path = credential_file(current_settings().data_dir, domain)
    try:
        write_secret_file(path, password.get_secret_value())
    except OSError as exc:
        reason = f"the file {path} could not be written ({exc.strerror})"
        return None, f"{problem}; {reason}" if problem else reason
    return f"file:{path}", problem


@task(retries=0)
async def rotate_and_store(domain: str, run_id: str, as_of: datetime) -> Rotation:
    """Rotate the credential and store its password before anything else; never retried.

    Returns what happened, never the password.
    """
    logger = get_run_logger()
    settings = current_settings()
    call = f"POST /domains/{domain}/provider-credential"
    async with EmbouxClient.from_settings(settings) as client:
        try:
            credential = await client.create_provider_credential(domain)
        except OutcomeUnknownError as exc:
            return Rotation(domain, "unknown", error=(
                f"the answer to {call} was lost ({exc}): EmBoux may have installed a new "
                f"password that never arrived, so the stored one may no longer work. Run "
                f"`mailops domains rotate-credential {domain} --apply` again now: a new POST "
                f"rotates again and stores the password it returns"
            ))
        except MailopsError as exc:
            return Rotation(domain, "failed", error=explain(exc, call))
    location, problem = await _keep(domain, credential.password)
    received = Rotation(domain, login=credential.login, provider=credential.provider,
                        patterns_installed=list(credential.patterns_installed))
    del credential
    if location is None:
        return replace(received, status="unstored", error=(
            f"EmBoux installed a new credential for {domain} but its password could not be "
            f"stored: {problem}. The previous password no longer works and the new one is "
            f"lost: fix the storage, then run `mailops domains rotate-credential {domain} "
            f"--apply` again at once (a new POST issues and stores a fresh password)"
        ))
    rotated = replace(received, status="rotated", location=location)
    if problem:
        rotated = replace(rotated, warning=f"{problem}; the password was written to {location} "
                                           "instead")
        logger.warning("credential-rotation %s: %s", domain, rotated.warning)
    try:
        with Store(settings.database_url) as store:
            store.upgrade()
            store.domains.record_credential(domain, location, as_of)
            store.audit.record(run_id, ROTATION, [Change(
                target=domain, field="provider_credential", old_value=None,
                new_value="rotated", reason=f"credential rotated; password kept in {location}",
                label=domain,
            )], now=as_of)
    except MailopsError as exc:
        rotated = replace(rotated, warning=f"rotated and stored in {location}, but not "
                                           f"recorded: {exc}")
    return rotated


@task()
def domains_with_credentials() -> list[str]:
    """The domains whose credential mailops installed (the API cannot list them)."""
    with Store(current_settings().database_url) as store:
        store.upgrade()
        return [d.name for d in store.domains.onboarded() if d.credential_location]


@task()
def alert_rotation(day: date, rotations: list[Rotation]) -> None:
    """A critical alert for each domain whose rotation needs a person."""
    found = [
        Alert("credential_rotation", Severity.CRITICAL, r.domain, r.error or r.status)
        for r in rotations if r.needs_a_person
    ]
    with Store(current_settings().database_url) as store:
        store.upgrade()
        store.alerts.save(day, ROTATION, found)


@task()
def publish_rotation(rotations: list[Rotation]) -> None:
    """What the rotation did, by domain (locations only, never a value)."""
    lines = ["| domain | status | stored in |", "|---|---|---|"]
    lines += [
        f"| {markdown_text(r.domain)} | {r.status} | {markdown_text(r.location or '-')} |"
        for r in rotations
    ]
    create_markdown_artifact(
        key=jobs.CREDENTIAL_ROTATION, markdown="\n".join(lines),
        description=f"{len(rotations)} credential rotation(s)",
    )
