"""EmBoux simulator, provider side: domain verification, subdomains and SMTP credentials.

Split from ``emboux.py`` to keep each module readable; the functions take the
:class:`~sandbox.emboux.EmbouxSim` as first argument and raise ``KeyError`` when the
caller may not see the domain (the router answers 404) and ``ValueError`` for an invalid name
(422). Behaviour and assumptions are listed in the docstring of ``emboux.py``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.emboux import EmbouxSim

MAILGUN_SPF = "v=spf1 include:mailgun.org ~all"
_RSA_PREFIX = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"


class Verification:
    """A provider verification started by ``POST /domains/{name}/verify``.

    Tokens are derived from the name so that a replayed sandbox run shows the same records.
    """

    __slots__ = ("dkim_key", "dkim_tokens", "name", "provider", "started_at", "succeeded",
                 "token")

    def __init__(self, name: str, provider: str, started_at: datetime) -> None:
        self.name = name
        self.provider = provider
        self.started_at = started_at
        self.succeeded = False
        digest = hashlib.sha256(f"{provider}:{name}".encode()).hexdigest()
        if provider == "ses":
            self.token = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()[:43]
            self.dkim_tokens = [digest[i * 20 : i * 20 + 20] for i in range(3)]
        else:
            self.token = MAILGUN_SPF
            self.dkim_tokens = ["".join(chr(97 + int(c, 16) % 26) for c in digest[:3])]
        key = b"".join(hashlib.sha256(f"{i}:{name}".encode()).digest() for i in range(6))
        self.dkim_key = _RSA_PREFIX + base64.b64encode(key).decode()


class Credential:
    """A provider SMTP credential in Postfix's SASL map; only a SHA-256 of the password kept."""

    __slots__ = ("domain", "installed_at", "login", "password_sha256", "patterns", "provider",
                 "rotations")

    def __init__(self, domain: str, provider: str) -> None:
        self.domain = domain
        self.provider = provider
        self.login = f"postmaster@{domain}"
        self.password_sha256 = ""
        self.patterns: list[str] = []
        self.rotations = 0
        self.installed_at: datetime | None = None


def dns_records(v: Verification) -> list[dict[str, str]]:
    """The records to publish for a verification: SPF/DKIM/CNAME (Mailgun) or SES's set."""
    name = v.name
    if v.provider == "ses":
        return [{"type": "TXT", "name": f"_amazonses.{name}", "value": v.token}] + [
            {"type": "CNAME", "name": f"{t}._domainkey.{name}", "value": f"{t}.dkim.amazonses.com"}
            for t in v.dkim_tokens
        ]
    return [
        {"type": "TXT", "name": name, "value": MAILGUN_SPF},
        {"type": "TXT", "name": f"{v.dkim_tokens[0]}._domainkey.{name}",
         "value": f"k=rsa; p={v.dkim_key}"},
        {"type": "CNAME", "name": f"email.{name}", "value": "mailgun.org"},
    ]


def _children(sim: EmbouxSim, name: str) -> list[str]:
    """Table domains below ``name`` (for a parent that is not itself in the table)."""
    inheritors = sim._inheritors.get(name)
    if inheritors:
        return sorted(inheritors)
    suffix = "." + name
    return [n for n in sim._domains if n.endswith(suffix)]


def _provider_for(sim: EmbouxSim, name: str) -> str:
    d = sim._domains.get(name)
    if d is not None:
        return d.provider
    v = sim._verifications.get(name)
    if v is not None:
        return v.provider
    children = _children(sim, name)
    return sim._domains[children[0]].provider if children else "mailgun"


def _resolve(sim: EmbouxSim, name: str, partner_ref: str | None) -> None:
    """KeyError unless the caller may act on ``name``.

    Customers: only their own table domains. Master: table domains, and parents that are not
    in the table but have a verification, a credential or table domains below them.
    """
    if name in sim._domains:
        sim.visible(name, partner_ref)
        return
    if partner_ref is not None:
        raise KeyError(name)
    if name in sim._verifications or name in sim._credentials or _children(sim, name):
        return
    raise KeyError(name)


def _body(v: Verification, name: str, verified: bool, records: list[dict[str, str]]
          ) -> dict[str, Any]:
    return {
        "name": name,
        "verification_token": v.token,
        "dkim_tokens": list(v.dkim_tokens),
        "verified": verified,
        "dns_records": records,
        "provider": v.provider,
    }


def verify(sim: EmbouxSim, name: str, partner_ref: str | None) -> dict[str, Any]:
    """Start (or repeat) a verification; answers EmBoux's VerifyResponse
    (docs/emboux-api.md#verification)."""
    with sim.lock:
        _resolve(sim, name, partner_ref)
        d = sim._domains.get(name)
        v = sim._verifications.get(name)
        if v is None:
            v = Verification(name, _provider_for(sim, name), sim.clock.now())
            sim._verifications[name] = v
        already = d.verified if d is not None else v.succeeded
        if already:
            v.succeeded = True
        return _body(v, name, already, dns_records(v))


def _poll(sim: EmbouxSim, v: Verification) -> None:
    """Ask the provider: Success once the propagation delay passed; then propagate."""
    if not v.succeeded and sim.clock.now() >= v.started_at + sim.verification_delay:
        v.succeeded = True
    if v.succeeded:
        root = sim._domains.get(v.name)
        if root is not None:
            root.verified = True
        for sub in sim._inheritors.get(v.name, ()):
            sim._domains[sub].verified = True


def verify_status(sim: EmbouxSim, name: str, partner_ref: str | None) -> dict[str, Any]:
    """``GET /domains/{name}/verify-status``: Pending, Success or NotStarted."""
    with sim.lock:
        _resolve(sim, name, partner_ref)
        d = sim._domains.get(name)
        v = sim._verifications.get(name)
        if v is None and d is not None and d.verify_domain != name:
            v = sim._verifications.get(d.verify_domain)
        if v is not None:
            _poll(sim, v)
        if d is not None and d.verified:
            status, verified = "Success", True
        elif v is not None:
            status, verified = ("Success", True) if v.succeeded else ("Pending", False)
        else:
            status, verified = "NotStarted", False
        return {
            "name": name,
            "verified": verified,
            "verification_status": status,
            "dkim_status": status,
            "provider": d.provider if d is not None else _provider_for(sim, name),
        }


def _root_verified(sim: EmbouxSim, root: str) -> bool:
    d = sim._domains.get(root)
    if d is not None and d.verified:
        return True
    v = sim._verifications.get(root)
    return v is not None and v.succeeded


def register_subdomain(sim: EmbouxSim, name: str, partner_ref: str | None) -> dict[str, Any]:
    """Make a table subdomain inherit its parent's verification (Mailgun: DKIM authority)."""
    if name.count(".") < 2:
        raise ValueError(f"name: {name!r} is not a subdomain (3 or more domain parts needed)")
    with sim.lock:
        d = sim.visible(name, partner_ref)
        parent = name.split(".", 1)[1]
        parent_row = sim._domains.get(parent)
        root = parent_row.verify_domain if parent_row is not None else parent
        if d.verify_domain != name:
            sim._inheritors.get(d.verify_domain, set()).discard(name)
        d.verify_domain = root
        sim._inheritors.setdefault(root, set()).add(name)
        d.verified = _root_verified(sim, root)
        cred = sim._credentials.get(root)
        if cred is not None and f"@{name}" not in cred.patterns:
            cred.patterns.append(f"@{name}")
        v = sim._verifications.get(root) or Verification(root, d.provider, sim.clock.now())
        if d.provider == "ses":
            records: list[dict[str, str]] = []
        else:
            records = [
                {"type": "TXT", "name": name, "value": MAILGUN_SPF},
                {"type": "CNAME", "name": f"email.{name}", "value": "mailgun.org"},
            ]
        body = _body(v, name, d.verified, records)
        body["provider"] = d.provider
        return body


def install_credential(sim: EmbouxSim, name: str) -> dict[str, Any]:
    """Install or rotate the domain's provider credential; the password is shown only here."""
    with sim.lock:
        _resolve(sim, name, None)
        cred = sim._credentials.get(name)
        if cred is None:
            cred = Credential(name, _provider_for(sim, name))
            sim._credentials[name] = cred
        else:
            cred.rotations += 1
        password = secrets.token_hex(16)
        cred.password_sha256 = hashlib.sha256(password.encode()).hexdigest()
        cred.patterns = [f"@{name}"] + [f"@{s}" for s in sorted(sim._inheritors.get(name, ()))]
        cred.installed_at = sim.clock.now()
        return {
            "domain": name,
            "provider": cred.provider,
            "login": cred.login,
            "password": password,
            "patterns_installed": list(cred.patterns),
            "sasl_path": f"/etc/postfix/sasl_passwd_{cred.provider}",
        }


def remove_credential(sim: EmbouxSim, name: str) -> dict[str, Any]:
    """Remove the credential; idempotent (0 patterns when none is installed)."""
    with sim.lock:
        _resolve(sim, name, None)
        cred = sim._credentials.pop(name, None)
        return {"domain": name, "patterns_removed": len(cred.patterns) if cred else 0}
