"""Pure decisions of domain onboarding and verification: subdomain or not, pending too long.

Subdomain or not follows the Public Suffix List (https://publicsuffix.org): a name is a
subdomain exactly when it is longer than its registrable domain. The list itself is a
lookup, not a decision, and lives outside the pure rules (`mailops.public_suffix`): the
rules take it as an argument, a `RegistrableDomain`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailops.rules.alerts import Alert, Severity

RegistrableDomain = Callable[[str], str | None]
"""A normalised name's registrable domain by the Public Suffix List, None for a public suffix:
`mailops.public_suffix.registrable_domain`, or a stand-in in a test."""

VERIFIED = "Success"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise(name: str) -> str:
    """The domain in canonical form (lowercase, no trailing dot); ValueError when not one."""
    domain = name.strip().rstrip(".").lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{name!r} is not a domain name")
    return domain


def parent_of(name: str, registrable_domain: RegistrableDomain) -> str | None:
    """The parent a subdomain registers under (the name without its first label), or None
    for a registrable domain.

    By the Public Suffix List: `news.acme.com.sg` is a subdomain of `acme.com.sg`, while
    `acme.com.sg` and `shop.co.uk` are registrable. ValueError when the name is not a domain
    name or is itself a public suffix (`co.uk`), which nobody registers.
    """
    domain = normalise(name)
    registrable = registrable_domain(domain)
    if registrable is None:
        raise ValueError(
            f"{name!r} is a public suffix, under which domains are registered, not a domain: "
            f"give one registered under it (such as example.{domain}) or a subdomain of one"
        )
    if domain == registrable:
        return None
    return domain.split(".", 1)[1]


def is_subdomain(name: str, registrable_domain: RegistrableDomain) -> bool:
    return parent_of(name, registrable_domain) is not None


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
