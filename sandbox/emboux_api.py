"""EmBoux simulator, HTTP side: every endpoint of docs/emboux-api.md as a FastAPI router.

Mounted by the sandbox under ``/emboux``. Handlers are thin: authenticate, find the domain
the caller may see, validate the body, call the model in ``emboux.py``, answer a plain
``JSONResponse`` (no response_model validation, so the hot GET stays cheap).

Status codes: 401 missing/unknown token, 403 master-only action with a customer token,
404 unknown domain and any domain of another partner (existence is never leaked),
422 invalid body (the message names the field), 406 bad Mailgun signature (Mailgun's
convention; nothing changes). Errors answer ``{"detail": "..."}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from sandbox.emboux import Domain, EmbouxSim
    from sandbox.journal import Journal

MASTER_ONLY_FIELDS = ("warmup_profile", "spike_max_multiplier")


class OutboundUpdate(BaseModel):
    """Body of ``PUT /domains/{name}/outbound``: every field optional, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    outbound_daily_limit: int | None = Field(default=None, ge=0)
    outbound_monthly_limit: int | None = Field(default=None, ge=0)
    outbound_tier: Literal["shared", "dedicated"] | None = None
    outbound_enforcement: Literal["soft", "hard"] | None = None
    outbound_status: Literal["active", "suspended"] | None = None
    warmup_profile: Literal["fast", "standard", "conservative"] | None = None
    spike_max_multiplier: float | None = Field(default=None, ge=0, allow_inf_nan=False)


def _fail(status: int, detail: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail=detail, headers=headers)


def _not_found(name: str) -> HTTPException:
    return _fail(404, f"domain not found: {name}")


@contextmanager
def _known_domain(name: str) -> Iterator[None]:
    """Answer 404 when the model does not know ``name`` or the caller may not see it (its
    KeyError): existence is never leaked."""
    try:
        yield
    except KeyError:
        raise _not_found(name) from None


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


async def _json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; {} for an empty optional body; 422 otherwise."""
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise _fail(422, "body: a JSON object is required")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _fail(422, "body: not valid JSON") from exc
    if not isinstance(data, dict):
        raise _fail(422, "body: must be a JSON object")
    return data


def _address_domain(value: Any) -> str | None:
    """The domain part of an address such as ``"Shop <news@shop.example>"``."""
    if not isinstance(value, str):
        return None
    address = parseaddr(value)[1] or value
    return address.rpartition("@")[2].strip().lower() or None


def mailgun_signature_ok(key: str, signature: Any) -> bool:
    """Mailgun's check: hex HMAC-SHA256(key, timestamp + token), compared in constant time."""
    if not isinstance(signature, dict):
        return False
    timestamp = signature.get("timestamp")
    token = signature.get("token")
    given = signature.get("signature")
    if not (isinstance(timestamp, str | int) and isinstance(token, str)
            and isinstance(given, str)):
        return False
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), given)


def build_router(sim: EmbouxSim, journal: Journal | None = None) -> APIRouter:
    """The router of ``sim``; every path is relative to the ``/emboux`` mount. Every outbound
    setting a ``PUT`` changes is recorded in ``journal`` when given."""
    router = APIRouter()

    def principal(request: Request) -> str | None:
        """None for the master token, the partner_ref of a customer token; 401 otherwise."""
        header = request.headers.get("authorization")
        if not header:
            raise _fail(401, "missing Authorization: Bearer <token>")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _fail(401, "Authorization must be 'Bearer <token>'")
        try:
            return sim.partner_of_token(token)
        except KeyError:
            raise _fail(401, "invalid token") from None

    def visible(name: str, partner: str | None) -> Domain:
        """The domain ``name`` if ``partner`` may see it; 404 otherwise."""
        with _known_domain(name):
            return sim.visible(name, partner)

    def require_master(request: Request) -> None:
        if principal(request) is not None:
            raise _fail(403, "this endpoint needs the master token")

    # --- domains and outbound ---------------------------------------------------------------

    @router.get("/domains")
    async def list_domains(request: Request) -> JSONResponse:
        """The domains this token may see: ``[{"name", "partner_ref", "status"}]``."""
        return JSONResponse(sim.list_domains(principal(request)))

    @router.get("/domains/{name}/outbound")
    async def get_outbound(name: str, request: Request) -> JSONResponse:
        """Outbound configuration and metrics: the 15 fields of
        docs/emboux-api.md#outbound-counters."""
        partner = principal(request)
        d = visible(name, partner)
        return JSONResponse(d.outbound())

    @router.put("/domains/{name}/outbound")
    async def put_outbound(name: str, request: Request) -> JSONResponse:
        """Change limits, tier, enforcement, status; profile and spike are master only."""
        partner = principal(request)
        d = visible(name, partner)
        data = await _json_object(request)
        try:
            update = OutboundUpdate.model_validate(data)
        except ValidationError as exc:
            raise _fail(422, _validation_message(exc)) from None
        fields = update.model_dump(exclude_none=True)
        if partner is not None:
            denied = [f for f in MASTER_ONLY_FIELDS if f in fields]
            if denied:
                raise _fail(403, f"{', '.join(denied)}: only the master token may change this")
        before = d.outbound()
        after = sim.update_outbound(d.name, fields)
        if journal is not None:
            for field, value in after.items():
                if before[field] != value:
                    journal.record("EmBoux", field, d.partner_ref, d.name, before[field], value,
                                   f"PUT /domains/{d.name}/outbound")
        return JSONResponse(after)

    @router.post("/domains/{name}/outbound/increment")
    async def increment(name: str, request: Request) -> JSONResponse:
        """Policy check and count of one outgoing email; body ``{"recipient": ...}`` optional."""
        partner = principal(request)
        d = visible(name, partner)
        data = await _json_object(request, optional=True)
        recipient = data.get("recipient")
        if recipient is not None and not isinstance(recipient, str):
            raise _fail(422, "recipient: must be a string (an email address) or null")
        return JSONResponse(sim.increment(d.name, recipient))

    # --- provider: verification, subdomains, credentials -----------------------------------

    @router.post("/domains/{name}/verify")
    async def verify(name: str, request: Request) -> JSONResponse:
        """Start verification and answer the DNS records to publish."""
        partner = principal(request)
        with _known_domain(name):
            return JSONResponse(sim.verify(name, partner))

    @router.get("/domains/{name}/verify-status")
    async def verify_status(name: str, request: Request) -> JSONResponse:
        """Poll the provider; a Success marks the domain and its subdomains verified."""
        partner = principal(request)
        with _known_domain(name):
            return JSONResponse(sim.verify_status(name, partner))

    @router.post("/domains/{name}/register-subdomain")
    async def register_subdomain(name: str, request: Request) -> JSONResponse:
        """Make a subdomain (3+ labels) inherit its parent's verification."""
        partner = principal(request)
        with _known_domain(name):
            try:
                return JSONResponse(sim.register_subdomain(name, partner))
            except ValueError as exc:
                raise _fail(422, str(exc)) from None

    @router.post("/domains/{name}/provider-credential")
    async def post_credential(name: str, request: Request) -> JSONResponse:
        """Install or rotate the provider credential (master only); password shown once."""
        require_master(request)
        with _known_domain(name):
            return JSONResponse(sim.install_credential(name))

    @router.delete("/domains/{name}/provider-credential")
    async def delete_credential(name: str, request: Request) -> JSONResponse:
        """Remove the provider credential (master only); idempotent."""
        require_master(request)
        with _known_domain(name):
            return JSONResponse(sim.remove_credential(name))

    # --- resets -------------------------------------------------------------------------------

    @router.post("/outbound/reset-daily")
    async def reset_daily(request: Request) -> JSONResponse:
        """Push today's counts into the 7-day history and zero them (master only)."""
        require_master(request)
        return JSONResponse(sim.reset_daily())

    @router.post("/outbound/reset-monthly")
    async def reset_monthly(request: Request) -> JSONResponse:
        """Freeze the month's counters for billing, then zero them (master only)."""
        require_master(request)
        return JSONResponse(sim.reset_monthly())

    # --- provider webhooks (no bearer auth) --------------------------------------------------

    @router.post("/webhooks/ses")
    async def ses_webhook(request: Request) -> JSONResponse:
        """An SNS envelope from SES (JSON, or SNS's text/plain): subscription or notification."""
        envelope = await _json_object(request)
        kind = envelope.get("Type")
        if kind == "SubscriptionConfirmation":
            sim.record_webhook("ses:SubscriptionConfirmation")
            sim.ses_subscriptions.append({
                "TopicArn": envelope.get("TopicArn"),
                "SubscribeURL": envelope.get("SubscribeURL"),
                "at": sim.clock.now().isoformat(),
            })
            return JSONResponse({"status": "confirmed", "TopicArn": envelope.get("TopicArn")})
        if kind == "UnsubscribeConfirmation":
            sim.record_webhook("ses:UnsubscribeConfirmation")
            return JSONResponse({"status": "ignored"})
        if kind != "Notification":
            raise _fail(422, "Type: must be SubscriptionConfirmation or Notification")
        message = envelope.get("Message")
        if isinstance(message, str):
            try:
                message = json.loads(message)
            except ValueError:
                raise _fail(422, "Message: not valid JSON") from None
        if not isinstance(message, dict):
            raise _fail(422, "Message: must be a JSON object (or a string holding one)")
        ntype = message.get("notificationType") or message.get("eventType")
        mail = message.get("mail") if isinstance(message.get("mail"), dict) else {}
        if ntype == "Bounce":
            section, key, event = message.get("bounce"), "bouncedRecipients", "bounce"
        elif ntype == "Complaint":
            section, key, event = message.get("complaint"), "complainedRecipients", "complaint"
        else:
            sim.record_webhook(f"ses:{ntype}")
            return JSONResponse({"status": "ignored", "notificationType": ntype})
        listed = section.get(key) if isinstance(section, dict) else None
        if isinstance(listed, list) and listed:
            recipients = [r.get("emailAddress") for r in listed if isinstance(r, dict)]
        else:
            destination = mail.get("destination")
            recipients = destination if isinstance(destination, list) else []
        recipients = [r for r in recipients if isinstance(r, str) and r]
        if not recipients:
            raise _fail(422, f"{ntype.lower()}.{key}: no recipient email address")
        sender = _address_domain(mail.get("source"))
        domain = sim.provider_event(event, sender, recipients, source=f"ses:{ntype}")
        return JSONResponse({"status": "processed", "notificationType": ntype,
                             "domain": domain, "recipients": len(recipients)})

    @router.post("/webhooks/mailgun")
    async def mailgun_webhook(request: Request) -> JSONResponse:
        """A Mailgun event; HMAC-checked when a signing key is set. failed/bounced, complained."""
        body = await _json_object(request)
        key = sim.mailgun_signing_key
        if key:
            ok = mailgun_signature_ok(key, body.get("signature"))
            if not ok:
                sim.record_webhook("mailgun:rejected_signature")
                raise _fail(406, "signature: invalid Mailgun webhook signature")
        data = body.get("event-data")
        if not isinstance(data, dict):
            raise _fail(422, "event-data: a JSON object is required")
        name = data.get("event")
        if name in ("failed", "bounced"):
            event = "bounce"
        elif name == "complained":
            event = "complaint"
        else:
            sim.record_webhook(f"mailgun:{name}")
            return JSONResponse({"status": "ignored", "event": name})
        recipient = data.get("recipient")
        if not isinstance(recipient, str) or not recipient:
            raise _fail(422, "event-data.recipient: an email address is required")
        domain_field = data.get("domain")
        if isinstance(domain_field, dict):
            domain_field = domain_field.get("name")
        sender = domain_field.lower() if isinstance(domain_field, str) and domain_field else None
        if sender is None:
            envelope = data.get("envelope") if isinstance(data.get("envelope"), dict) else {}
            sender = _address_domain(envelope.get("sender"))
        if sender is None:
            message = data.get("message") if isinstance(data.get("message"), dict) else {}
            headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
            sender = _address_domain(headers.get("from"))
        domain = sim.provider_event(event, sender, [recipient], source=f"mailgun:{name}")
        return JSONResponse({"status": "processed", "event": name, "domain": domain})

    return router
