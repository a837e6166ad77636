"""The EmBoux outbound API's answers and request bodies as mailops reads and sends them
(docs/emboux-api.md, field for field).

Plain pydantic models, apart from the client (`mailops.emboux`) so that the rules, the guard's
plans and the store can take them without the HTTP layer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from mailops.counts import Count
from mailops.secrets import register_secret
from mailops.text import STORABLE, ApiText

Tier = Literal["shared", "dedicated"]
OutboundStatus = Literal["active", "suspended"]
Enforcement = Literal["soft", "hard"]
WarmupProfile = Literal["fast", "standard", "conservative"]
# Bounds on what the store keeps of an answer: an answer past them is unusable (a clear
# error for that domain) instead of a write that fails for every domain of the day. Every
# str field is ApiText (mailops.text): a character no database stores becomes U+FFFD.
DomainName = Annotated[str, StringConstraints(min_length=1, max_length=253), STORABLE]
PartnerRef = Annotated[str, StringConstraints(max_length=255), STORABLE]
Word = Annotated[str, StringConstraints(max_length=16), STORABLE]  # status, tier, provider


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DomainSummary(_Model):
    name: DomainName
    partner_ref: PartnerRef | None
    status: ApiText


class Outbound(_Model):
    """`GET /domains/{name}/outbound`: configuration, anti-spam settings and counters."""

    name: DomainName
    outbound_tier: Word
    outbound_status: Word
    outbound_daily_limit: Count
    outbound_monthly_limit: Count
    outbound_sent_today: Count
    outbound_sent_month: Count
    outbound_enforcement: Word
    bounce_count: Count
    complaint_count: Count
    bounce_rate: float
    complaint_rate: float
    ses_verified: bool
    warmup_profile: Word
    spike_max_multiplier: float


class OutboundUpdate(BaseModel):
    """The fields `PUT /domains/{name}/outbound` may change; unset fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    outbound_daily_limit: int | None = Field(None, ge=0)
    outbound_monthly_limit: int | None = Field(None, ge=0)
    outbound_tier: Tier | None = None
    outbound_enforcement: Enforcement | None = None
    outbound_status: OutboundStatus | None = None
    warmup_profile: WarmupProfile | None = None
    spike_max_multiplier: float | None = Field(None, ge=0)


class IncrementResult(_Model):
    name: ApiText
    outbound_sent_today: Count
    outbound_sent_month: Count
    allowed: bool
    reason: ApiText | None = None


class DnsRecord(_Model):
    type: ApiText
    name: ApiText
    value: ApiText


class VerifyResponse(_Model):
    name: ApiText
    verification_token: ApiText | None = None
    dkim_tokens: list[ApiText] = Field(default_factory=list)
    verified: bool
    dns_records: list[DnsRecord]
    provider: Word


class VerifyStatus(_Model):
    name: DomainName
    verified: bool
    verification_status: Word
    dkim_status: ApiText | None = None
    provider: Word


class ProviderCredential(_Model):
    """A fresh provider credential; the password is shown by the API once and kept secret."""

    domain: ApiText
    provider: ApiText
    login: ApiText
    password: SecretStr  # kept exactly as given: a credential, never stored in the database
    patterns_installed: list[ApiText]
    sasl_path: ApiText

    @field_validator("password")
    @classmethod
    def _remember_for_redaction(cls, value: SecretStr) -> SecretStr:
        register_secret(value.get_secret_value())
        return value


class CredentialRemoval(_Model):
    domain: ApiText | None = None
    patterns_removed: Count


class ResetDaily(_Model):
    reset_count: Count


class FrozenCounters(_Model):
    """One domain's monthly counters as `reset-monthly` froze them for billing."""

    name: DomainName
    partner_ref: PartnerRef | None
    outbound_sent_month: Count
    outbound_monthly_limit: Count
    bounce_count: Count
    complaint_count: Count
    bounce_rate: float
    complaint_rate: float


class ResetMonthly(_Model):
    frozen: list[FrozenCounters]
    reset_count: Count
