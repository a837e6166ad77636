"""EmBoux simulator: the in-memory model of the hosted outbound-email API (docs/emboux-api.md).

The sandbox mounts :meth:`EmbouxSim.router` under ``/emboux``; traffic generators call the
Python methods directly. Every notion of time (today, this hour, domain age, verification
delay) comes from the shared :class:`SimClock`, so nothing moves until the clock is advanced.

Assumptions where EmBoux's documentation is silent (each lives here, once; docs/assumptions.md
lists the ones mailops itself relies on):

- ``POST /domains/{name}/outbound/increment`` takes an optional JSON body
  ``{"recipient": "..."}``: the suppression layer needs the recipient and EmBoux names no
  parameter. Without a recipient the suppression layer is skipped.
- Reason strings EmBoux does not list (docs/emboux-api.md#increment) are chosen in
  :data:`REASONS` (below).
- Layers are checked in EmBoux's order (docs/emboux-api.md#anti-spam-layers). A hard failure
  stops the check and is the reason; a soft exceedance is remembered (the first one wins) and
  checking continues, because a later layer that ignores enforcement (warm-up) may still
  reject. Allowed sends increment ``outbound_sent_today``, ``outbound_sent_month`` and the
  hour's counter; refused ones do not.
- Warm-up: cap = floor(50 x growth ** days), days counted from ``warmup_started`` (day 0 = the
  start date, cap 50). This straightforward model reproduces EmBoux's table
  (docs/emboux-api.md#warm-up) exactly (first day the cap reaches 200 / 1,000 / 10,000: fast
  3/6/10, standard 15/32/56, conservative 29/62/109). A domain is in warm-up while its cap is
  below its daily limit, or below 10,000 (:data:`WARMUP_UNLIMITED_END`, the table's last
  column) when the limit is 0 (unlimited). The state is derived, not stored: raising the daily
  limit later resumes the warm-up if the cap has not reached the new limit. ``add_domain``
  without ``warmup_started`` starts the warm-up on the clock's today (a new domain).
- Spike: the 7-day average is the mean of the history entries present (1 to 7 days). The layer
  is skipped when the history is empty or its average is 0: otherwise a domain with an idle
  week could never send again under hard enforcement.
- Hourly throttle: the hour is the simulated clock's UTC hour; the counter starts over at each
  new hour and at ``reset-daily``. The cap is ceil(daily_limit / 6), only when daily_limit > 0.
- Guillotine: rates are percentages rounded to 4 decimals (0 when nothing was sent) and must be
  strictly greater than the threshold; it only fires once ``outbound_sent_month`` reaches
  ``guillotine_min_sends`` (default 100), otherwise the first bounce of a month would suspend
  every domain. Suspension is recorded with its cause in :meth:`EmbouxSim.truth`.
- Webhooks: the sending domain is the domain of SES's ``mail.source`` (Mailgun:
  ``event-data.domain`` / ``domain.name``, else ``envelope.sender``, else the From header),
  matched to the table by itself or its nearest parent. SES recipients come from
  ``bouncedRecipients`` / ``complainedRecipients``, else ``mail.destination``. Events for a
  domain the table does not know still add the recipient to the global suppression list but
  change no counter. Other event types (Delivery, delivered, opened...) are acknowledged and
  ignored. SNS message signatures are not checked; a bad Mailgun signature answers 406.
  The suppression list keeps the first event per address (case-insensitive).
- ``PUT .../outbound``: unknown fields are refused (422) rather than ignored; a null value means
  "unchanged". Setting ``suspended`` records a manual suspension; setting ``active`` lifts it.
  ``reset-monthly`` zeroes counters but never lifts a suspension.
- Verification: ``verify`` starts a provider verification that stays ``Pending`` until the clock
  has advanced ``verification_delay`` (default 1 hour); the next ``verify-status`` poll then
  reports ``Success`` and marks the domain and every domain sharing its verify domain
  verified (the status only changes on a poll, as with the real provider check). A domain's
  verify domain is itself, or its parent's once ``register-subdomain`` made it inherit.
  ``register-subdomain`` needs the subdomain in the table (there is no create-domain
  endpoint); it sets the subdomain's ``ses_verified`` to the parent's current verification.
  The master may verify (and poll, and install credentials for) a name not in the table only
  when table domains lie below it; otherwise 404. DNS tokens are derived from the name, so a
  replayed run shows the same records.
- Credentials: ``login`` is ``postmaster@<domain>`` for every provider; only a SHA-256 of the
  password is kept (``truth()`` shows a 12-hex fingerprint). A subdomain registered after the
  install is added to the credential's patterns.
- Thread safety: mutations hold one ``RLock`` so traffic generators may run in another thread
  than the server's event loop.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from sandbox import emboux_provider
from sandbox.clock import SimClock

if TYPE_CHECKING:
    from fastapi import APIRouter

    from sandbox.journal import Journal

# --- reason strings of POST .../outbound/increment, in the order of the layers -------------
R_SUPPRESSED: Final = "recipient_suppressed"
R_NOT_VERIFIED: Final = "domain_not_verified"
R_SUSPENDED: Final = "outbound_suspended"
R_SUSPENDED_SOFT: Final = "outbound_suspended_soft"
R_WARMUP: Final = "warmup_limit_exceeded"
R_SPIKE: Final = "spike_detected"
R_SPIKE_SOFT: Final = "spike_detected_soft"
R_HOURLY: Final = "hourly_limit_exceeded"
R_HOURLY_SOFT: Final = "hourly_limit_exceeded_soft"
R_DAILY: Final = "daily_limit_exceeded"
R_DAILY_SOFT: Final = "daily_limit_exceeded_soft"
R_MONTHLY: Final = "monthly_limit_exceeded"
R_MONTHLY_SOFT: Final = "monthly_limit_exceeded_soft"

#: reason -> (layer, allowed, origin). "seed" = a reason EmBoux lists
#: (docs/emboux-api.md#increment), "sandbox" = our choice.
REASONS: Final[dict[str, tuple[str, bool, str]]] = {
    R_SUPPRESSED: ("1 suppression list (550)", False, "sandbox"),
    R_NOT_VERIFIED: ("2 domain verification (550)", False, "sandbox"),
    R_SUSPENDED: ("3 suspended, hard (452)", False, "seed"),
    R_SUSPENDED_SOFT: ("3 suspended, soft (warn)", True, "seed"),
    R_WARMUP: ("4 warm-up cap, any enforcement (452)", False, "sandbox"),
    R_SPIKE: ("5 spike, hard (452)", False, "sandbox"),
    R_SPIKE_SOFT: ("5 spike, soft (warn)", True, "sandbox"),
    R_HOURLY: ("6 hourly throttle, hard (452)", False, "sandbox"),
    R_HOURLY_SOFT: ("6 hourly throttle, soft (warn)", True, "sandbox"),
    R_DAILY: ("7 daily limit, hard (452)", False, "seed"),
    R_DAILY_SOFT: ("7 daily limit, soft (allow + bill)", True, "seed"),
    R_MONTHLY: ("8 monthly limit, hard (452)", False, "seed"),
    R_MONTHLY_SOFT: ("8 monthly limit, soft (allow + bill)", True, "seed"),
}

TIERS: Final = ("shared", "dedicated")
STATUSES: Final = ("active", "suspended")
ENFORCEMENTS: Final = ("soft", "hard")
PROVIDERS: Final = ("mailgun", "ses")
WARMUP_GROWTH: Final[dict[str, float]] = {"fast": 1.8, "standard": 1.1, "conservative": 1.05}
WARMUP_BASE: Final = 50
WARMUP_UNLIMITED_END: Final = 10_000
HISTORY_DAYS: Final = 7
_MAX_WARMUP_DAYS: Final = 1_000  # keeps growth ** days a finite float


def warmup_cap(profile: str, days: int) -> int:
    """The warm-up daily cap on day ``days`` after the start: floor(50 x growth ** days)."""
    days = min(max(days, 0), _MAX_WARMUP_DAYS)
    return int(WARMUP_BASE * WARMUP_GROWTH[profile] ** days)


def rate(count: int, sent: int) -> float:
    """A percentage of the month's sends, rounded to 4 decimals; 0 when nothing was sent."""
    return round(count * 100 / sent, 4) if sent > 0 else 0.0


def _check_choice(field: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{field}: must be one of {', '.join(choices)}, not {value!r}")


@dataclass(slots=True, eq=False)
class Domain:
    """One row of the EmBoux domain table plus the sandbox's bookkeeping about it; what a row
    starts with is `EmbouxSim.add_domain`'s to choose (its defaults are EmBoux's)."""

    name: str
    partner_ref: str
    warmup_started: date
    verified: bool
    daily_limit: int
    monthly_limit: int
    tier: str
    enforcement: str
    warmup_profile: str
    status: str
    spike_max_multiplier: float
    provider: str
    verify_domain: str = field(init=False)  # the domain whose verification it inherits
    sent_today: int = 0
    sent_month: int = 0
    bounce_count: int = 0
    complaint_count: int = 0
    history: deque[int] = field(default_factory=lambda: deque(maxlen=HISTORY_DAYS))
    hour_key: int = -1
    hour_count: int = 0
    suspension: dict[str, Any] | None = None
    suspensions: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    allowed_count: int = 0
    resets_daily: int = 0
    resets_monthly: int = 0

    def __post_init__(self) -> None:
        self.verify_domain = self.name

    def outbound(self) -> dict[str, Any]:
        """The 15 fields of ``GET /domains/{name}/outbound``, in EmBoux's order
        (docs/emboux-api.md#outbound-counters)."""
        sent = self.sent_month
        return {
            "name": self.name,
            "outbound_tier": self.tier,
            "outbound_status": self.status,
            "outbound_daily_limit": self.daily_limit,
            "outbound_monthly_limit": self.monthly_limit,
            "outbound_sent_today": self.sent_today,
            "outbound_sent_month": sent,
            "outbound_enforcement": self.enforcement,
            "bounce_count": self.bounce_count,
            "complaint_count": self.complaint_count,
            "bounce_rate": rate(self.bounce_count, sent),
            "complaint_rate": rate(self.complaint_count, sent),
            "ses_verified": self.verified,
            "warmup_profile": self.warmup_profile,
            "spike_max_multiplier": self.spike_max_multiplier,
        }


class EmbouxSim:
    """The simulated EmBoux service: domain table, policy daemon, webhooks, resets."""

    def __init__(
        self,
        clock: SimClock,
        *,
        master_token: str,
        bounce_rate_threshold: float = 0.5,
        complaint_rate_threshold: float = 0.1,
        mailgun_signing_key: str | None = None,
        guillotine_min_sends: int = 100,
        verification_delay: timedelta = timedelta(hours=1),
    ) -> None:
        if not master_token:
            raise ValueError("master_token: must not be empty")
        self.clock = clock
        self.master_token = master_token
        self.bounce_rate_threshold = bounce_rate_threshold
        self.complaint_rate_threshold = complaint_rate_threshold
        self.mailgun_signing_key = mailgun_signing_key
        self.guillotine_min_sends = guillotine_min_sends
        self.verification_delay = verification_delay
        self.lock = threading.RLock()
        self._domains: dict[str, Domain] = {}
        self._by_partner: dict[str, dict[str, None]] = {}
        self._customers: dict[str, str] = {}
        self._suppression: dict[str, dict[str, Any]] = {}
        self._verifications: dict[str, emboux_provider.Verification] = {}
        self._credentials: dict[str, emboux_provider.Credential] = {}
        self._inheritors: dict[str, set[str]] = {}
        self.reset_daily_log: list[str] = []
        self.reset_monthly_log: list[str] = []
        self.reset_monthly_frozen: list[list[dict[str, Any]]] = []  # per call, what it froze
        self.ses_subscriptions: list[dict[str, Any]] = []
        self.webhook_events: dict[str, int] = {}

    # --- set-up ---------------------------------------------------------------------------

    def add_customer(self, token: str, partner_ref: str) -> None:
        """Register a customer token that sees only the domains of ``partner_ref``."""
        if not token or token == self.master_token:
            raise ValueError("token: must be non-empty and differ from the master token")
        self._customers[token] = partner_ref

    def add_domain(
        self,
        name: str,
        partner_ref: str,
        *,
        verified: bool = True,
        daily_limit: int = 0,
        monthly_limit: int = 0,
        tier: str = "shared",
        enforcement: str = "hard",
        warmup_profile: str = "standard",
        status: str = "active",
        spike_max_multiplier: float = 5.0,
        provider: str = "mailgun",
        warmup_started: date | None = None,
    ) -> None:
        """Add (or replace) one domain row; cheap enough for 20,000 domains in well under 1 s."""
        _check_choice("outbound_tier", tier, TIERS)
        _check_choice("outbound_enforcement", enforcement, ENFORCEMENTS)
        _check_choice("outbound_status", status, STATUSES)
        _check_choice("warmup_profile", warmup_profile, tuple(WARMUP_GROWTH))
        _check_choice("provider", provider, PROVIDERS)
        if daily_limit < 0 or monthly_limit < 0 or spike_max_multiplier < 0:
            raise ValueError("limits and spike_max_multiplier must be >= 0")
        key = name.lower()
        with self.lock:
            old = self._domains.get(key)
            if old is not None:
                self._by_partner[old.partner_ref].pop(key, None)
                self._inheritors.get(old.verify_domain, set()).discard(key)
            d = Domain(key, partner_ref, warmup_started or self.clock.today(), verified=verified,
                       daily_limit=daily_limit, monthly_limit=monthly_limit, tier=tier,
                       enforcement=enforcement, warmup_profile=warmup_profile, status=status,
                       spike_max_multiplier=float(spike_max_multiplier), provider=provider)
            if status == "suspended":
                d.suspension = {"at": self.clock.now().isoformat(), "cause": "initial"}
                d.suspensions.append(d.suspension)
            self._domains[key] = d
            self._by_partner.setdefault(partner_ref, {})[key] = None

    # --- lookups ---------------------------------------------------------------------------

    def domain_names(self) -> list[str]:
        """Every domain name, in insertion order."""
        return list(self._domains)

    def domain(self, name: str) -> Domain:
        """The row of ``name`` (case-insensitive); KeyError when unknown."""
        return self._domains[name.lower()]

    def partner_of_token(self, token: str) -> str | None:
        """None for the master token, the partner_ref for a customer; KeyError when unknown."""
        if secrets.compare_digest(token.encode(), self.master_token.encode()):
            return None
        return self._customers[token]

    def visible(self, name: str, partner_ref: str | None) -> Domain:
        """The domain if the caller may see it; KeyError for unknown and for foreign domains."""
        d = self._domains[name.lower()]
        if partner_ref is not None and d.partner_ref != partner_ref:
            raise KeyError(name)
        return d

    def list_domains(self, partner_ref: str | None = None) -> list[dict[str, str]]:
        """``GET /domains``: every domain (master) or the partner's own."""
        if partner_ref is None:
            rows = self._domains.values()
        else:
            names = self._by_partner.get(partner_ref, {})
            rows = (self._domains[n] for n in names)
        return [{"name": d.name, "partner_ref": d.partner_ref, "status": d.status} for d in rows]

    def outbound(self, name: str) -> dict[str, Any]:
        """The JSON body of ``GET /domains/{name}/outbound``."""
        return self._domains[name.lower()].outbound()

    def is_suppressed(self, recipient: str) -> bool:
        """Whether the global suppression list holds ``recipient``."""
        return recipient.lower() in self._suppression

    # --- outbound configuration -------------------------------------------------------------

    def update_outbound(self, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        """``PUT /domains/{name}/outbound`` on validated fields; answers the updated body."""
        d = self._domains[name.lower()]
        with self.lock:
            if "outbound_daily_limit" in fields:
                d.daily_limit = fields["outbound_daily_limit"]
            if "outbound_monthly_limit" in fields:
                d.monthly_limit = fields["outbound_monthly_limit"]
            if "outbound_tier" in fields:
                d.tier = fields["outbound_tier"]
            if "outbound_enforcement" in fields:
                d.enforcement = fields["outbound_enforcement"]
            if "warmup_profile" in fields:
                d.warmup_profile = fields["warmup_profile"]
            if "spike_max_multiplier" in fields:
                d.spike_max_multiplier = float(fields["spike_max_multiplier"])
            status = fields.get("outbound_status")
            if status == "suspended" and d.status != "suspended":
                self._suspend(d, {"cause": "manual"})
            elif status == "active" and d.status != "active":
                d.status = "active"
                if d.suspension is not None:
                    d.suspension["lifted_at"] = self.clock.now().isoformat()
                d.suspension = None
            return d.outbound()

    # --- the policy daemon ------------------------------------------------------------------

    def increment(self, name: str, recipient: str | None = None) -> dict[str, Any]:
        """Check every anti-spam layer in order; count the send if allowed.

        Answers exactly the JSON body of ``POST /domains/{name}/outbound/increment``.
        """
        d = self._domains[name.lower()]
        with self.lock:
            hour = int(self.clock.now().timestamp()) // 3600
            if d.hour_key != hour:
                d.hour_key = hour
                d.hour_count = 0
            allowed, reason = self._check(d, recipient)
            d.attempts += 1
            if reason is not None:
                d.reasons[reason] = d.reasons.get(reason, 0) + 1
            if allowed:
                d.allowed_count += 1
                d.sent_today += 1
                d.sent_month += 1
                d.hour_count += 1
            return {
                "name": d.name,
                "outbound_sent_today": d.sent_today,
                "outbound_sent_month": d.sent_month,
                "allowed": allowed,
                "reason": reason,
            }

    def _check(self, d: Domain, recipient: str | None) -> tuple[bool, str | None]:
        """The eight anti-spam layers (docs/emboux-api.md#anti-spam-layers); see the module
        docstring."""
        if recipient is not None and recipient.lower() in self._suppression:
            return False, R_SUPPRESSED
        if not d.verified:
            return False, R_NOT_VERIFIED
        soft = d.enforcement == "soft"
        soft_reason: str | None = None
        if d.status == "suspended":
            if not soft:
                return False, R_SUSPENDED
            soft_reason = R_SUSPENDED_SOFT
        after = d.sent_today + 1
        limit = d.daily_limit
        days = (self.clock.today() - d.warmup_started).days
        cap = warmup_cap(d.warmup_profile, days)
        if cap < (limit or WARMUP_UNLIMITED_END) and after > cap:
            return False, R_WARMUP
        layers: list[tuple[bool, str, str]] = []
        if d.spike_max_multiplier > 0 and d.history:
            average = sum(d.history) / len(d.history)
            exceeded = average > 0 and after > d.spike_max_multiplier * average
            layers.append((exceeded, R_SPIKE, R_SPIKE_SOFT))
        if limit > 0:
            layers.append((d.hour_count + 1 > math.ceil(limit / 6), R_HOURLY, R_HOURLY_SOFT))
            layers.append((after > limit, R_DAILY, R_DAILY_SOFT))
        if d.monthly_limit > 0:
            layers.append((d.sent_month + 1 > d.monthly_limit, R_MONTHLY, R_MONTHLY_SOFT))
        for exceeded, hard_reason, soft_name in layers:
            if exceeded:
                if not soft:
                    return False, hard_reason
                soft_reason = soft_reason or soft_name
        return True, soft_reason

    # --- bounces, complaints, guillotine -----------------------------------------------------

    def bounce(self, domain: str, recipient: str) -> None:
        """A bounce on ``domain``: count it, suppress the recipient globally, run the guillotine."""
        self._event(domain, recipient, "bounce")

    def complain(self, domain: str, recipient: str) -> None:
        """A complaint on ``domain``: count it, suppress globally, run the guillotine."""
        self._event(domain, recipient, "complaint")

    def suppress(self, recipient: str, *, kind: str, domain: str | None) -> None:
        """Add ``recipient`` to the global suppression list (first event kept)."""
        with self.lock:
            self._suppression.setdefault(
                recipient.lower(),
                {"kind": kind, "domain": domain, "at": self.clock.now().isoformat()},
            )

    def record_webhook(self, source: str) -> None:
        """Count one webhook delivery by source (``ses:Bounce``, ``mailgun:failed``, ...)."""
        with self.lock:
            self.webhook_events[source] = self.webhook_events.get(source, 0) + 1

    def sending_domain(self, name: str | None) -> str | None:
        """The table domain that sent for ``name``: itself or its nearest parent in the table."""
        while name:
            if name in self._domains:
                return name
            if "." not in name:
                return None
            name = name.split(".", 1)[1]
        return None

    def provider_event(
        self, kind: str, sender_domain: str | None, recipients: list[str], *, source: str
    ) -> str | None:
        """A webhook's bounce/complaint: the shared logic for known domains, else suppress only.

        Answers the table domain charged with the event, or None when none matches.
        """
        with self.lock:
            self.record_webhook(source)
            domain = self.sending_domain(sender_domain.lower() if sender_domain else None)
            for recipient in recipients:
                if domain is not None:
                    self._event(domain, recipient, kind)
                else:
                    self.suppress(recipient, kind=kind, domain=None)
            return domain

    def _event(self, domain: str, recipient: str, kind: str) -> None:
        d = self._domains[domain.lower()]
        with self.lock:
            if kind == "bounce":
                d.bounce_count += 1
            else:
                d.complaint_count += 1
            self.suppress(recipient, kind=kind, domain=d.name)
            self._guillotine(d)

    def _guillotine(self, d: Domain) -> None:
        """Suspend ``d`` when a rate is strictly above its threshold on enough sends."""
        if d.status == "suspended" or d.sent_month < self.guillotine_min_sends:
            return
        bounce_rate = rate(d.bounce_count, d.sent_month)
        complaint_rate = rate(d.complaint_count, d.sent_month)
        causes = []
        if bounce_rate > self.bounce_rate_threshold:
            causes.append("bounce_rate")
        if complaint_rate > self.complaint_rate_threshold:
            causes.append("complaint_rate")
        if causes:
            self._suspend(d, {
                "cause": "guillotine",
                "exceeded": causes,
                "bounce_rate": bounce_rate,
                "complaint_rate": complaint_rate,
                "outbound_sent_month": d.sent_month,
            })

    def _suspend(self, d: Domain, why: dict[str, Any]) -> None:
        d.status = "suspended"
        d.suspension = {"at": self.clock.now().isoformat(), **why}
        d.suspensions.append(d.suspension)

    # --- counters resets ---------------------------------------------------------------------

    def reset_daily(self) -> dict[str, int]:
        """``POST /outbound/reset-daily``: push today's count into history, zero today and hour.

        Not idempotent, like the real API: a second call the same day pushes a zero day.
        """
        with self.lock:
            for d in self._domains.values():
                d.history.append(d.sent_today)
                d.sent_today = 0
                d.hour_count = 0
                d.resets_daily += 1
            self.reset_daily_log.append(self.clock.now().isoformat())
            return {"reset_count": len(self._domains)}

    def reset_monthly(self) -> dict[str, Any]:
        """``POST /outbound/reset-monthly``: freeze every domain's month, then zero it."""
        with self.lock:
            frozen = []
            for d in self._domains.values():
                frozen.append({
                    "name": d.name,
                    "partner_ref": d.partner_ref,
                    "outbound_sent_month": d.sent_month,
                    "outbound_monthly_limit": d.monthly_limit,
                    "bounce_count": d.bounce_count,
                    "complaint_count": d.complaint_count,
                    "bounce_rate": rate(d.bounce_count, d.sent_month),
                    "complaint_rate": rate(d.complaint_count, d.sent_month),
                })
                d.sent_month = 0
                d.bounce_count = 0
                d.complaint_count = 0
                d.resets_monthly += 1
            self.reset_monthly_log.append(self.clock.now().isoformat())
            self.reset_monthly_frozen.append([dict(row) for row in frozen])
            return {"frozen": frozen, "reset_count": len(frozen)}

    # --- verification and credentials (logic in emboux_provider.py) --------------------------

    def verify(self, name: str, partner_ref: str | None = None) -> dict[str, Any]:
        """``POST /domains/{name}/verify``; KeyError when the caller may not see ``name``."""
        return emboux_provider.verify(self, name.lower(), partner_ref)

    def verify_status(self, name: str, partner_ref: str | None = None) -> dict[str, Any]:
        """``GET /domains/{name}/verify-status``; a Success poll propagates to subdomains."""
        return emboux_provider.verify_status(self, name.lower(), partner_ref)

    def register_subdomain(self, name: str, partner_ref: str | None = None) -> dict[str, Any]:
        """``POST /domains/{name}/register-subdomain``; ValueError for fewer than 3 labels."""
        return emboux_provider.register_subdomain(self, name.lower(), partner_ref)

    def install_credential(self, name: str) -> dict[str, Any]:
        """``POST /domains/{name}/provider-credential``: install or rotate (master only)."""
        return emboux_provider.install_credential(self, name.lower())

    def remove_credential(self, name: str) -> dict[str, Any]:
        """``DELETE /domains/{name}/provider-credential``: idempotent removal."""
        return emboux_provider.remove_credential(self, name.lower())

    # --- ground truth and HTTP -------------------------------------------------------------

    def truth(self) -> dict[str, Any]:
        """Everything a test may want to check, never a plaintext password."""
        with self.lock:
            creds_by_domain: dict[str, dict[str, Any]] = {}
            for cred in self._credentials.values():
                for pattern in cred.patterns:
                    creds_by_domain[pattern[1:]] = {
                        "installed_by": cred.domain,
                        "login": cred.login,
                        "provider": cred.provider,
                        "password_fingerprint": cred.password_sha256[:12],
                        "rotations": cred.rotations,
                    }
            domains = {}
            today = self.clock.today()
            for d in self._domains.values():
                row = d.outbound()
                days = (today - d.warmup_started).days
                row.update({
                    "partner_ref": d.partner_ref,
                    "provider": d.provider,
                    "verify_domain": d.verify_domain,
                    "history": list(d.history),
                    "hour_count": d.hour_count,
                    "warmup_started": d.warmup_started.isoformat(),
                    "warmup_cap_today": warmup_cap(d.warmup_profile, days),
                    "suspension": d.suspension,
                    "suspensions": list(d.suspensions),
                    "attempts": d.attempts,
                    "allowed": d.allowed_count,
                    "reasons": dict(d.reasons),
                    "reset_daily_applied": d.resets_daily,
                    "reset_monthly_applied": d.resets_monthly,
                    "credential": creds_by_domain.get(d.name),
                })
                domains[d.name] = row
            return {
                "now": self.clock.now().isoformat(),
                "domains": domains,
                "suppression_list_size": len(self._suppression),
                "suppression": {k: dict(v) for k, v in self._suppression.items()},
                "reset_daily_calls": len(self.reset_daily_log),
                "reset_monthly_calls": len(self.reset_monthly_log),
                "reset_daily_log": list(self.reset_daily_log),
                "reset_monthly_log": list(self.reset_monthly_log),
                "reset_monthly_frozen": [list(rows) for rows in self.reset_monthly_frozen],
                "verifications": {
                    v.name: {
                        "provider": v.provider,
                        "started_at": v.started_at.isoformat(),
                        "succeeded": v.succeeded,
                    }
                    for v in self._verifications.values()
                },
                "credentials": {
                    c.domain: {
                        "login": c.login,
                        "provider": c.provider,
                        "patterns": list(c.patterns),
                        "password_fingerprint": c.password_sha256[:12],
                        "rotations": c.rotations,
                    }
                    for c in self._credentials.values()
                },
                "ses_subscriptions": list(self.ses_subscriptions),
                "webhook_events": dict(self.webhook_events),
            }

    def router(self, journal: Journal | None = None) -> APIRouter:
        """Every HTTP endpoint of docs/emboux-api.md, paths relative to the ``/emboux`` mount;
        changes applied on a client's request go to `journal` when given."""
        from sandbox.emboux_api import build_router

        return build_router(self, journal)


__all__ = [
    "REASONS",
    "WARMUP_GROWTH",
    "EmbouxSim",
    "rate",
    "warmup_cap",
]
