"""Typed async client for the EmBoux outbound API (docs/emboux-api.md, field for field).

`increment`, `reset_daily` and `reset_monthly` are not idempotent: the HTTP layer never
retries them once sent, and callers guard them with the store's ledger. The answers' models
are `mailops.models.emboux`.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from mailops.errors import AuthError, BadNameError, MailopsError
from mailops.http import ApiClient
from mailops.models.emboux import (
    CredentialRemoval,
    DomainSummary,
    IncrementResult,
    Outbound,
    OutboundUpdate,
    ProviderCredential,
    ResetDaily,
    ResetMonthly,
    VerifyResponse,
    VerifyStatus,
)
from mailops.settings import Settings

API_NAME = "EmBoux"


def master_token_refusal(exc: MailopsError, call: str, consequence: str) -> str | None:
    """One line for a `call` EmBoux refused with 403, which only its master token may make
    (`consequence`: what that left undone); None for any other error."""
    if isinstance(exc, AuthError) and exc.status == 403:
        return (
            f"{call} needs the EmBoux master token, and the configured token "
            f"(MAILOPS_EMBOUX_API_KEY) is not one: EmBoux refused it (403). {consequence}"
        )
    return None


class EmbouxClient:
    """EmBoux as one master or customer token sees it."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> EmbouxClient:
        api = ApiClient(
            API_NAME,
            settings.emboux_base_url,
            api_key=settings.emboux_api_key,
            subject="the configured EmBoux token",
            http=settings.http,
            limits=settings.emboux_limits,
            transport=transport,
        )
        return cls(api)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def __aenter__(self) -> EmbouxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def domains(self, *, unusable: list[str] | None = None) -> list[DomainSummary]:
        """The domains this token may see (`GET /domains`); with `unusable`, an entry that
        cannot be read is left out and said why there (the answer must still be a list)."""
        body = await self.api.get("/domains")
        if unusable is None or not isinstance(body, list):
            return self.api.parse(list[DomainSummary], body, "GET", "/domains")
        return self.api.parse_items(DomainSummary, body, "GET", "/domains", unusable)

    async def outbound(self, name: str) -> Outbound:
        path = f"{_domain_path(name)}/outbound"
        return self.api.parse(Outbound, await self.api.get(path), "GET", path)

    async def update_outbound(self, name: str, update: OutboundUpdate) -> None:
        """Change some outbound settings; repeating the same update changes nothing."""
        fields = update.model_dump(exclude_none=True)
        if not fields:
            raise ValueError("an outbound update needs at least one field")
        await self.api.put(f"{_domain_path(name)}/outbound", fields)

    async def increment(self, name: str, recipient: str | None = None) -> IncrementResult:
        """Check quotas for one email and count it (not idempotent: never retried once sent)."""
        path = f"{_domain_path(name)}/outbound/increment"
        body = await self.api.post(path, {"recipient": recipient} if recipient else None)
        return self.api.parse(IncrementResult, body, "POST", path)

    async def verify(self, name: str) -> VerifyResponse:
        """Start verification; answers the DNS records to publish."""
        path = f"{_domain_path(name)}/verify"
        return self.api.parse(VerifyResponse, await self.api.post(path), "POST", path)

    async def verify_status(self, name: str) -> VerifyStatus:
        path = f"{_domain_path(name)}/verify-status"
        return self.api.parse(VerifyStatus, await self.api.get(path), "GET", path)

    async def register_subdomain(self, name: str) -> VerifyResponse:
        """Register a subdomain (3+ labels) that inherits its parent's verification."""
        path = f"{_domain_path(name)}/register-subdomain"
        return self.api.parse(VerifyResponse, await self.api.post(path), "POST", path)

    async def create_provider_credential(self, name: str) -> ProviderCredential:
        """Generate (or rotate) the domain's provider credential (master token only)."""
        path = f"{_domain_path(name)}/provider-credential"
        return self.api.parse(ProviderCredential, await self.api.post(path), "POST", path)

    async def delete_provider_credential(self, name: str) -> CredentialRemoval:
        """Remove the domain's provider credential; idempotent (master token only)."""
        path = f"{_domain_path(name)}/provider-credential"
        return self.api.parse(CredentialRemoval, await self.api.delete(path), "DELETE", path)

    async def reset_daily(self) -> ResetDaily:
        """Push today's counts into the 7-day history and zero them (not idempotent)."""
        path = "/outbound/reset-daily"
        return self.api.parse(ResetDaily, await self.api.post(path), "POST", path)

    async def reset_monthly(self) -> ResetMonthly:
        """Freeze the monthly counters for billing and zero them (not idempotent)."""
        path = "/outbound/reset-monthly"
        return self.api.parse(ResetMonthly, await self.api.post(path), "POST", path)


def _domain_path(name: str) -> str:
    domain = name.strip().rstrip(".").lower()
    if not domain or "/" in domain:
        raise BadNameError(f"EmBoux: {name!r} is not a domain name; nothing was sent for it")
    return f"/domains/{quote(domain, safe='')}"
