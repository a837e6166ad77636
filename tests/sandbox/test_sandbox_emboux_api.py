"""The EmBoux simulator over HTTP: auth and isolation, bodies, webhooks, provider endpoints."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sandbox.clock import SimClock
from sandbox.emboux import EmbouxSim

MASTER = {"Authorization": "Bearer master-token"}
ALICE = {"Authorization": "Bearer alice-token"}  # partner p-alice
BOB = {"Authorization": "Bearer bob-token"}  # partner p-bob
SIGNING_KEY = "mg-signing-key"
OUTBOUND_FIELDS = [
    "name", "outbound_tier", "outbound_status", "outbound_daily_limit", "outbound_monthly_limit",
    "outbound_sent_today", "outbound_sent_month", "outbound_enforcement", "bounce_count",
    "complaint_count", "bounce_rate", "complaint_rate", "ses_verified", "warmup_profile",
    "spike_max_multiplier",
]


def build(**kwargs: object) -> tuple[EmbouxSim, TestClient]:
    """A simulator with alice (alice.example, ses.alice.example) and bob (bob.example)."""
    sim = EmbouxSim(SimClock(), master_token="master-token", **kwargs)  # type: ignore[arg-type]
    sim.add_customer("alice-token", "p-alice")
    sim.add_customer("bob-token", "p-bob")
    started = date(2020, 1, 1)
    sim.add_domain("alice.example", "p-alice", warmup_started=started)
    sim.add_domain("ses.alice.example", "p-alice", warmup_started=started, provider="ses")
    sim.add_domain("bob.example", "p-bob", warmup_started=started)
    app = FastAPI()
    app.include_router(sim.router(), prefix="/emboux")
    return sim, TestClient(app)


@pytest.fixture
def api() -> tuple[EmbouxSim, TestClient]:
    return build(mailgun_signing_key=SIGNING_KEY)


# --- auth and isolation -----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic bWFzdGVy"}])
def test_missing_or_unknown_token_is_401_with_a_json_detail(api, headers) -> None:
    _, client = api
    response = client.get("/emboux/domains/alice.example/outbound", headers=headers)
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_master_lists_every_domain_and_a_customer_only_its_own(api) -> None:
    _, client = api
    master = client.get("/emboux/domains", headers=MASTER).json()
    alice = client.get("/emboux/domains", headers=ALICE).json()
    assert {d["name"] for d in master} == {"alice.example", "ses.alice.example", "bob.example"}
    assert alice == [
        {"name": "alice.example", "partner_ref": "p-alice", "status": "active"},
        {"name": "ses.alice.example", "partner_ref": "p-alice", "status": "active"},
    ]


DOMAIN_ENDPOINTS = [
    ("GET", "/emboux/domains/{}/outbound", None),
    ("PUT", "/emboux/domains/{}/outbound", {"outbound_daily_limit": 5}),
    ("POST", "/emboux/domains/{}/outbound/increment", None),
    ("POST", "/emboux/domains/{}/verify", None),
    ("GET", "/emboux/domains/{}/verify-status", None),
    ("POST", "/emboux/domains/{}/register-subdomain", None),
]


@pytest.mark.parametrize(("method", "path", "body"), DOMAIN_ENDPOINTS)
def test_customer_gets_404_for_another_partners_domain_as_for_an_unknown_one(
    api, method, path, body
) -> None:
    # given bob's subdomain and an unknown one (3 labels so register-subdomain applies)
    sim, client = api
    sim.add_domain("mail.bob.example", "p-bob")
    before = sim.truth()["domains"]["mail.bob.example"]
    # when alice calls the endpoint on each
    foreign = client.request(method, path.format("mail.bob.example"), headers=ALICE, json=body)
    unknown = client.request(method, path.format("mail.nobody.example"), headers=ALICE,
                             json=body)
    # then both are the same 404, and bob's domain is untouched
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"].replace("bob", "X") == unknown.json()["detail"].replace(
        "nobody", "X")
    assert sim.truth()["domains"]["mail.bob.example"] == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/emboux/outbound/reset-daily"), ("POST", "/emboux/outbound/reset-monthly"),
     ("POST", "/emboux/domains/alice.example/provider-credential"),
     ("DELETE", "/emboux/domains/alice.example/provider-credential")],
)
def test_master_only_endpoints_are_403_for_a_customer_and_change_nothing(
    api, method, path
) -> None:
    sim, client = api
    sim.increment("alice.example")
    response = client.request(method, path, headers=ALICE)
    assert response.status_code == 403
    truth = sim.truth()
    assert truth["reset_daily_calls"] == truth["reset_monthly_calls"] == 0
    assert truth["credentials"] == {} and truth["domains"]["alice.example"]["history"] == []


# --- outbound ---------------------------------------------------------------------------------


def test_get_outbound_answers_exactly_the_seed_fields(api) -> None:
    _, client = api
    body = client.get("/emboux/domains/ALICE.example/outbound", headers=ALICE).json()
    assert list(body) == OUTBOUND_FIELDS
    assert body["name"] == "alice.example" and body["ses_verified"] is True


def test_put_outbound_changes_only_the_given_fields(api) -> None:
    _, client = api
    response = client.put("/emboux/domains/alice.example/outbound", headers=ALICE,
                          json={"outbound_daily_limit": 500, "outbound_monthly_limit": 10000,
                                "outbound_enforcement": "soft"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == OUTBOUND_FIELDS
    assert (body["outbound_daily_limit"], body["outbound_monthly_limit"],
            body["outbound_enforcement"], body["outbound_tier"]) == (500, 10000, "soft", "shared")


@pytest.mark.parametrize("field", ["warmup_profile", "spike_max_multiplier"])
def test_warmup_profile_and_spike_multiplier_are_master_only(api, field) -> None:
    sim, client = api
    value = "fast" if field == "warmup_profile" else 3
    customer = client.put("/emboux/domains/alice.example/outbound", headers=ALICE,
                          json={field: value})
    assert customer.status_code == 403 and field in customer.json()["detail"]
    assert sim.outbound("alice.example")[field] != value
    master = client.put("/emboux/domains/alice.example/outbound", headers=MASTER,
                        json={field: value})
    assert master.status_code == 200 and master.json()[field] == value


@pytest.mark.parametrize(
    ("body", "field"),
    [({"outbound_tier": "premium"}, "outbound_tier"),
     ({"outbound_daily_limit": -1}, "outbound_daily_limit"),
     ({"outbound_monthly_limit": "100"}, "outbound_monthly_limit"),
     ({"outbound_status": "paused"}, "outbound_status"),
     ({"spike_max_multiplier": -2}, "spike_max_multiplier"),
     ({"outbound_sent_today": 0}, "outbound_sent_today")],
)
def test_invalid_put_body_is_422_naming_the_field(api, body, field) -> None:
    sim, client = api
    before = sim.outbound("alice.example")
    response = client.put("/emboux/domains/alice.example/outbound", headers=MASTER, json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert sim.outbound("alice.example") == before


def test_increment_over_http_with_and_without_a_recipient(api) -> None:
    sim, client = api
    sim.bounce("bob.example", "gone@x.example")
    url = "/emboux/domains/alice.example/outbound/increment"
    plain = client.post(url, headers=ALICE)
    suppressed = client.post(url, headers=ALICE, json={"recipient": "gone@x.example"})
    bad = client.post(url, headers=ALICE, json={"recipient": 42})
    assert plain.json() == {"name": "alice.example", "outbound_sent_today": 1,
                            "outbound_sent_month": 1, "allowed": True, "reason": None}
    assert suppressed.json()["reason"] == "recipient_suppressed"
    assert bad.status_code == 422 and "recipient" in bad.json()["detail"]


def test_reset_endpoints_answer_the_seed_shapes(api) -> None:
    sim, client = api
    client.post("/emboux/domains/bob.example/outbound/increment", headers=BOB)
    daily = client.post("/emboux/outbound/reset-daily", headers=MASTER)
    monthly = client.post("/emboux/outbound/reset-monthly", headers=MASTER)
    assert daily.json() == {"reset_count": 3}
    body = monthly.json()
    assert body["reset_count"] == 3
    bob = next(row for row in body["frozen"] if row["name"] == "bob.example")
    assert bob == {"name": "bob.example", "partner_ref": "p-bob", "outbound_sent_month": 1,
                   "outbound_monthly_limit": 0, "bounce_count": 0, "complaint_count": 0,
                   "bounce_rate": 0.0, "complaint_rate": 0.0}
    assert sim.truth()["domains"]["bob.example"]["history"] == [1]


# --- webhooks ---------------------------------------------------------------------------------


def sns(message: dict) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "m-1",
                       "TopicArn": "arn:aws:sns:eu-west-1:1:ses", "Message": json.dumps(message)})


def test_ses_bounce_notification_counts_and_suppresses(api) -> None:
    # given an SNS notification sent with SNS's text/plain content type
    sim, client = api
    message = {"notificationType": "Bounce",
               "mail": {"source": "News <news@ses.alice.example>",
                        "destination": ["a@x.example", "b@x.example"]},
               "bounce": {"bounceType": "Permanent",
                          "bouncedRecipients": [{"emailAddress": "a@x.example"}]}}
    response = client.post("/emboux/webhooks/ses", content=sns(message),
                           headers={"Content-Type": "text/plain; charset=UTF-8"})
    # then the domain is charged, only the bounced recipient suppressed
    assert response.status_code == 200
    assert sim.outbound("ses.alice.example")["bounce_count"] == 1
    assert sim.is_suppressed("a@x.example") and not sim.is_suppressed("b@x.example")


def test_ses_complaint_notification_counts_and_suppresses(api) -> None:
    sim, client = api
    message = {"notificationType": "Complaint", "mail": {"source": "x@bob.example"},
               "complaint": {"complainedRecipients": [{"emailAddress": "c@x.example"}]}}
    response = client.post("/emboux/webhooks/ses", content=sns(message),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert sim.outbound("bob.example")["complaint_count"] == 1
    assert sim.increment("alice.example", "c@x.example")["reason"] == "recipient_suppressed"


def test_ses_subscription_confirmation_is_acknowledged_without_side_effects(api) -> None:
    sim, client = api
    envelope = {"Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:eu-west-1:1:ses",
                "SubscribeURL": "https://sns.example/confirm?token=t"}
    response = client.post("/emboux/webhooks/ses", content=json.dumps(envelope),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 200 and response.json()["status"] == "confirmed"
    truth = sim.truth()
    assert truth["ses_subscriptions"][0]["SubscribeURL"] == envelope["SubscribeURL"]
    assert truth["suppression_list_size"] == 0


def test_ses_event_for_an_unknown_domain_still_suppresses_globally(api) -> None:
    sim, client = api
    message = {"notificationType": "Bounce", "mail": {"source": "x@elsewhere.example"},
               "bounce": {"bouncedRecipients": [{"emailAddress": "d@x.example"}]}}
    response = client.post("/emboux/webhooks/ses", content=sns(message))
    assert response.status_code == 200 and response.json()["domain"] is None
    assert sim.is_suppressed("d@x.example")


def test_ses_webhook_refuses_a_body_that_is_not_json(api) -> None:
    _, client = api
    response = client.post("/emboux/webhooks/ses", content="hello",
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 422


def mailgun(event: str, recipient: str, *, key: str = SIGNING_KEY) -> dict:
    timestamp, token = "1790000000", "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(),
                         hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {"event": event, "recipient": recipient,
                           "domain": {"name": "alice.example"}, "severity": "permanent"}}


@pytest.mark.parametrize(("event", "counter"), [("failed", "bounce_count"),
                                                ("bounced", "bounce_count"),
                                                ("complained", "complaint_count")])
def test_mailgun_signed_event_is_applied(api, event, counter) -> None:
    sim, client = api
    response = client.post("/emboux/webhooks/mailgun", json=mailgun(event, "m@x.example"))
    assert response.status_code == 200
    assert sim.outbound("alice.example")[counter] == 1
    assert sim.is_suppressed("m@x.example")


def test_mailgun_bad_signature_is_rejected_and_changes_nothing(api) -> None:
    sim, client = api
    before = sim.truth()
    forged = mailgun("failed", "m@x.example", key="wrong-key")
    unsigned = mailgun("failed", "m@x.example")
    del unsigned["signature"]
    for body in (forged, unsigned):
        response = client.post("/emboux/webhooks/mailgun", json=body)
        assert response.status_code == 406
    after = sim.truth()
    assert after["domains"] == before["domains"]
    assert after["suppression_list_size"] == 0


def test_mailgun_events_are_accepted_unsigned_when_no_key_is_configured() -> None:
    sim, client = build()
    body = mailgun("bounced", "n@x.example")
    del body["signature"]
    assert client.post("/emboux/webhooks/mailgun", json=body).status_code == 200
    assert sim.outbound("alice.example")["bounce_count"] == 1


# --- verification and subdomains --------------------------------------------------------------


def test_verify_answers_mailgun_records_then_pending_then_success_after_the_delay(api) -> None:
    # given an unverified mailgun domain of alice
    sim, client = api
    sim.add_domain("new.example", "p-alice", verified=False)
    assert client.get("/emboux/domains/new.example/verify-status",
                      headers=ALICE).json()["verification_status"] == "NotStarted"
    # when alice starts verification
    body = client.post("/emboux/domains/new.example/verify", headers=ALICE).json()
    # then she gets the records to publish, and it is pending
    assert set(body) == {"name", "verification_token", "dkim_tokens", "verified",
                         "dns_records", "provider"}
    assert (body["verified"], body["provider"]) == (False, "mailgun")
    selector = body["dkim_tokens"][0]
    assert [(r["type"], r["name"]) for r in body["dns_records"]] == [
        ("TXT", "new.example"), ("TXT", f"{selector}._domainkey.new.example"),
        ("CNAME", "email.new.example")]
    status = client.get("/emboux/domains/new.example/verify-status", headers=ALICE).json()
    assert status == {"name": "new.example", "verified": False, "verification_status": "Pending",
                      "dkim_status": "Pending", "provider": "mailgun"}
    assert sim.increment("new.example")["reason"] == "domain_not_verified"
    # when the propagation delay has passed: then the next poll says Success and unblocks
    sim.clock.advance(timedelta(minutes=59))
    assert not client.get("/emboux/domains/new.example/verify-status",
                          headers=ALICE).json()["verified"]
    sim.clock.advance(timedelta(minutes=1))
    status = client.get("/emboux/domains/new.example/verify-status", headers=ALICE).json()
    assert (status["verified"], status["verification_status"]) == (True, "Success")
    assert sim.outbound("new.example")["ses_verified"] is True
    assert sim.increment("new.example")["allowed"] is True


def test_ses_verify_answers_the_amazonses_txt_and_three_dkim_cnames(api) -> None:
    sim, client = api
    sim.add_domain("ses.example", "p-alice", verified=False, provider="ses")
    body = client.post("/emboux/domains/ses.example/verify", headers=ALICE).json()
    assert body["provider"] == "ses" and len(body["dkim_tokens"]) == 3
    records = body["dns_records"]
    assert records[0] == {"type": "TXT", "name": "_amazonses.ses.example",
                          "value": body["verification_token"]}
    assert [r["name"] for r in records[1:]] == [
        f"{t}._domainkey.ses.example" for t in body["dkim_tokens"]]
    assert all(r["type"] == "CNAME" and r["value"].endswith(".dkim.amazonses.com")
               for r in records[1:])


def test_master_verifies_a_parent_not_in_the_table_and_it_propagates_to_subdomains(api) -> None:
    # given two unverified subdomains of a parent that is not in the table
    sim, client = api
    for sub in ("a.tenant.example", "b.tenant.example"):
        sim.add_domain(sub, "p-alice", verified=False)
        registered = client.post(f"/emboux/domains/{sub}/register-subdomain", headers=ALICE)
        assert registered.status_code == 200 and registered.json()["verified"] is False
    # when a customer tries to verify the parent: then it does not exist for her
    assert client.post("/emboux/domains/tenant.example/verify", headers=ALICE).status_code == 404
    # when the master verifies it and polls after the delay
    assert client.post("/emboux/domains/tenant.example/verify",
                       headers=MASTER).status_code == 200
    sim.clock.advance(timedelta(hours=1))
    status = client.get("/emboux/domains/tenant.example/verify-status", headers=MASTER).json()
    # then the parent and both subdomains are verified
    assert status["verification_status"] == "Success"
    assert sim.outbound("a.tenant.example")["ses_verified"] is True
    assert sim.outbound("b.tenant.example")["ses_verified"] is True


def test_register_subdomain_inherits_a_verified_parent(api) -> None:
    sim, client = api
    sim.add_domain("news.alice.example", "p-alice", verified=False)
    body = client.post("/emboux/domains/news.alice.example/register-subdomain",
                       headers=ALICE).json()
    assert set(body) == {"name", "verification_token", "dkim_tokens", "verified",
                         "dns_records", "provider"}
    assert body["verified"] is True and body["name"] == "news.alice.example"
    assert sim.truth()["domains"]["news.alice.example"]["verify_domain"] == "alice.example"
    assert sim.increment("news.alice.example")["allowed"] is True


def test_register_subdomain_needs_three_domain_parts(api) -> None:
    _, client = api
    response = client.post("/emboux/domains/alice.example/register-subdomain", headers=ALICE)
    assert response.status_code == 422 and "name" in response.json()["detail"]


# --- provider credentials ---------------------------------------------------------------------


def test_provider_credential_is_shown_once_hashed_rotated_and_removed_idempotently(api) -> None:
    # given alice.example with one subdomain inheriting it
    sim, client = api
    sim.add_domain("news.alice.example", "p-alice")
    client.post("/emboux/domains/news.alice.example/register-subdomain", headers=MASTER)
    url = "/emboux/domains/alice.example/provider-credential"
    # when the master installs the credential
    first = client.post(url, headers=MASTER).json()
    # then the password is 32 hex chars, shown once, patterns cover the subdomain
    assert re.fullmatch(r"[0-9a-f]{32}", first["password"])
    assert first == {"domain": "alice.example", "provider": "mailgun",
                     "login": "postmaster@alice.example", "password": first["password"],
                     "patterns_installed": ["@alice.example", "@news.alice.example"],
                     "sasl_path": "/etc/postfix/sasl_passwd_mailgun"}
    truth = json.dumps(sim.truth())
    assert first["password"] not in truth
    assert sim.truth()["domains"]["news.alice.example"]["credential"]["installed_by"] == (
        "alice.example")
    # when it is re-posted: then it rotates to a new password
    second = client.post(url, headers=MASTER).json()
    assert second["password"] != first["password"]
    assert sim.truth()["credentials"]["alice.example"]["rotations"] == 1
    # when it is deleted twice: then 2 patterns then 0 are removed
    assert client.delete(url, headers=MASTER).json() == {"domain": "alice.example",
                                                         "patterns_removed": 2}
    again = client.delete(url, headers=MASTER)
    assert again.status_code == 200 and again.json()["patterns_removed"] == 0
    assert sim.truth()["credentials"] == {}


def test_ses_credential_uses_the_ses_sasl_map(api) -> None:
    _, client = api
    body = client.post("/emboux/domains/ses.alice.example/provider-credential",
                       headers=MASTER).json()
    assert body["provider"] == "ses"
    assert body["sasl_path"] == "/etc/postfix/sasl_passwd_ses"


def test_provider_credential_for_an_unknown_domain_is_404(api) -> None:
    _, client = api
    url = "/emboux/domains/nobody.example/provider-credential"
    assert client.post(url, headers=MASTER).status_code == 404
    assert client.delete(url, headers=MASTER).status_code == 404
