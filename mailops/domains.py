"""Domain onboarding, verification polling and credential files: the I/O around EmBoux.

Decisions (subdomain or not, pending too long) live in `mailops.rules.domains`, given the
Public Suffix List's lookup (`mailops.public_suffix`); the Prefect Secret block write lives
in `tasks.domains` (no Prefect here).
"""

from __future__ import annotations

import asyncio
import os
import secrets as stdlib_secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from mailops.emboux import EmbouxClient
from mailops.errors import MailopsError
from mailops.jsonable import FLATTEN
from mailops.models.emboux import VerifyResponse, VerifyStatus
from mailops.public_suffix import registrable_domain
from mailops.rules.alerts import Alert
from mailops.rules.domains import VERIFIED, PendingDomain, parent_of
from mailops.store import DomainRecord

POLL_CONCURRENCY = 8


def planned_calls(name: str) -> list[str]:
    """What onboarding `name` would call, for the dry run."""
    parent = parent_of(name, registrable_domain)
    if parent is None:
        return [f"POST /domains/{name}/verify"]
    return [f"POST /domains/{name}/register-subdomain (inherits verification from {parent})"]


async def onboard(client: EmbouxClient, name: str, now: datetime) -> DomainRecord:
    """Start verification of a domain, or register a subdomain under its parent."""
    parent = parent_of(name, registrable_domain)
    answer: VerifyResponse
    if parent is None:
        answer = await client.verify(name)
    else:
        answer = await client.register_subdomain(name)
    status = VERIFIED if answer.verified else "Pending"
    return DomainRecord(
        name=name,
        parent=parent,
        provider=answer.provider,
        dns_records=[record.model_dump() for record in answer.dns_records],
        status=status,
        verified=answer.verified,
        onboarded_at=now,
        verified_at=now if answer.verified else None,
    )


@dataclass(frozen=True)
class DomainOnboardingResult:
    """What one domain-onboarding run did; the CLI and `--json` (`to_jsonable`) read it.

    `status` is not_started, planned (a dry run) or the stored record's status; `calls` the
    call made (or that a dry run would make); `record` the stored domain, its fields beside
    these in JSON (None until stored); `notification` where its records were posted.
    """

    domain: str
    apply: bool
    status: str = "not_started"
    parent: str | None = None
    calls: list[str] = field(default_factory=list)
    record: DomainRecord | None = field(default=None, metadata=FLATTEN)
    notification: str | None = None


@dataclass(frozen=True)
class PlannedRotation:
    """A credential a rotation run rotates (or would): the call, and where the password goes."""

    domain: str
    call: str
    store_in: str


@dataclass(frozen=True)
class Rotation:
    """What rotating one domain's credential did, never its password.

    `status` is rotated, unstored (installed, but its password could not be kept), unknown
    (the answer was lost) or failed; `location` where the password is kept; `error` what a
    person must do when not rotated; `warning` a rotation's problem that needs no one now.
    """

    domain: str
    status: str = "failed"
    location: str | None = None
    login: str | None = None
    provider: str | None = None
    patterns_installed: list[str] | None = None
    error: str | None = None
    warning: str | None = None

    @property
    def needs_a_person(self) -> bool:
        return self.status != "rotated"


@dataclass(frozen=True)
class CredentialRotationResult:
    """What one credential-rotation run did; the CLI and `--json` (`to_jsonable`) read it.

    `status` is not_started, planned (a dry run), nothing_to_do, rejected (at the approval),
    done or failed (a rotation needs a person).
    """

    run_id: str
    apply: bool
    status: str = "not_started"
    planned: list[PlannedRotation] = field(default_factory=list)
    rotations: list[Rotation] = field(default_factory=list)


@dataclass(frozen=True)
class Polled:
    """One domain's verification status, or why it could not be read."""

    name: str
    status: VerifyStatus | None = field(default=None, metadata=FLATTEN)
    error: str | None = None


@dataclass(frozen=True)
class StatusChange:
    """A polled domain whose verification status changed (stored once in its history)."""

    name: str
    status: str
    at: datetime


@dataclass(frozen=True)
class PollRound:
    """What one poll of the unverified domains found: how many were polled, the status
    changes it stored, the domains now verified, those that could not be read, and those
    still waiting (with the records they have to publish)."""

    polled: int
    changes: list[StatusChange]
    verified: list[str]
    failures: list[Polled]
    pending: list[PendingDomain]


@dataclass(frozen=True)
class VerificationWatchResult:
    """What one verification-watch run did; the CLI, Slack and `--json` (`to_jsonable`)
    read it. `day` is None when the run stopped before it knew its day."""

    day: date | None
    polled: int = 0
    changes: list[StatusChange] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    failures: list[Polled] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    notification: str | None = None


async def poll(client: EmbouxClient, names: list[str]) -> list[Polled]:
    """`verify-status` of every name, a few at a time; failures kept per domain."""
    gate = asyncio.Semaphore(POLL_CONCURRENCY)

    async def one(name: str) -> Polled:
        async with gate:
            try:
                return Polled(name, await client.verify_status(name))
            except MailopsError as exc:
                return Polled(name, error=str(exc))

    return list(await asyncio.gather(*(one(name) for name in names)))


def credential_file(data_dir: str | Path, domain: str) -> Path:
    return Path(data_dir) / "credentials" / f"{domain}.secret"


def write_secret_file(path: Path, value: str) -> None:
    """Write `value` to `path` readable by the owner only (0600 from creation), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{stdlib_secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
