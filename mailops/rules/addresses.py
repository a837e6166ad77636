"""One way to compare email addresses: the bare address, in one case, domain as ASCII.

Senders arrive as `boss@corp.com`, ` Boss@Corp.COM `, `"Boss" <boss@corp.com>` or
`Boss <BOSS@corp.com.>`; contacts as bare addresses. `normalise_address` gives each the same
key. The domain goes through contact-cleanup's `real_domain` (after the last `@`, IDN as
punycode, no trailing dot), so both jobs agree on what a domain is.
"""

from __future__ import annotations

import re

from mailops.rules.contacts import real_domain

# A display name followed by the address in angle brackets, at the end of the text.
_ANGLE = re.compile(r"<([^<>]*)>\s*$")


def bare_address(text: str) -> str:
    """The address inside `"Name" <addr>` (or the whole text), without surrounding spaces."""
    stripped = (text or "").strip()
    match = _ANGLE.search(stripped)
    return (match.group(1) if match else stripped).strip()


def normalise_address(text: str) -> str | None:
    """The comparison key of an address: bare, lower-cased whole, domain in ASCII; None
    when the text holds no address (no `@`, nothing before it, or no usable domain)."""
    address = bare_address(text)
    local, at, _ = address.rpartition("@")
    domain = real_domain(address)
    if not at or domain is None:
        return None
    return f"{local.strip().casefold()}@{domain}"
