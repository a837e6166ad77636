"""Pure decisions of domain onboarding and verification: subdomain or not, pending too long."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailops.rules.alerts import Alert, Severity

# Registrable suffixes of two labels: "shop.co.uk" is a domain, not a subdomain of "co.uk".
TWO_LABEL_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp",
    "com.br", "com.mx", "co.za", "com.tr", "com.cn", "co.in",
})
VERIFIED = "Success"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise(name: str) -> str:
    """The domain in canonical form (lowercase, no trailing dot); ValueError when not one."""
    domain = name.strip().rstrip(".").lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{name!r} is not a domain name")
    return domain


def parent_of(name: str) -> str | None:
    """The parent a subdomain registers under (3+ labels), or None for a registrable domain."""
    labels = normalise(name).split(".")
    if len(labels) < 3:
        return None
    if len(labels) == 3 and ".".join(labels[1:]) in TWO_LABEL_SUFFIXES:
        return None
    return ".".join(labels[1:])


def is_subdomain(name: str) -> bool:
    return parent_of(name) is not None


def secret_block_name(domain: str) -> str:
    """The Prefect Secret block of a domain's credential: lowercase letters, digits, dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", normalise(domain)).strip("-")
    return f"emboux-credential-{slug}"


@dataclass(frozen=True)
class PendingDomain:
    """A domain whose verification is not done, with what it still has to publish."""

    name: str
    status: str
    onboarded_at: datetime
    records: tuple[str, ...] = ()


def pending_days(domain: PendingDomain, now: datetime) -> float:
    return (now - domain.onboarded_at) / timedelta(days=1)


def pending_alerts(pending: list[PendingDomain], now: datetime, days: int) -> list[Alert]:
    """A warning for each domain still unverified `days` or more after onboarding."""
    found = []
    for domain in pending:
        waited = pending_days(domain, now)
        if waited >= days:
            needs = "; ".join(domain.records) or "the records of `mailops domains onboard`"
            found.append(Alert(
                "verification_pending", Severity.WARNING, domain.name,
                f"still {domain.status} after {waited:.1f} days (threshold {days}): outbound "
                f"mail stays blocked; publish {needs}",
                round(waited, 2), float(days),
            ))
    return found


def status_changed(previous: str | None, current: str) -> bool:
    """A status worth recording: the first one seen, or a different one."""
    return previous != current
