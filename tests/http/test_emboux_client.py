"""The EmBoux client: docs/emboux-api.md's shapes field for field; secrets stay secret."""

from __future__ import annotations

import pytest
from scripted_server import Reply

from mailops.emboux import EmbouxClient
from mailops.errors import BadNameError, ResponseFormatError
from mailops.models.emboux import OutboundUpdate
from mailops.secrets import redact

pytestmark = pytest.mark.anyio

OUTBOUND = {
    "name": "example.com",
    "outbound_tier": "shared",
    "outbound_status": "active",
    "outbound_daily_limit": 500,
    "outbound_monthly_limit": 10000,
    "outbound_sent_today": 120,
    "outbound_sent_month": 3400,
    "outbound_enforcement": "hard",
    "bounce_count": 7,
    "complaint_count": 1,
    "bounce_rate": 0.21,
    "complaint_rate": 0.03,
    "ses_verified": True,
    "warmup_profile": "standard",
    "spike_max_multiplier": 5.0,
}


@pytest.fixture
def emboux(make_mock_client) -> EmbouxClient:
    return EmbouxClient(make_mock_client(api="EmBoux", subject="the master token"))


async def test_domains_list_what_the_token_sees(mock_api, emboux):
    mock_api.script("GET", "/domains", Reply(json=[{"name": "example.com", "partner_ref": "p1",
                                                  "status": "active"}]))
    [domain] = await emboux.domains()
    assert (domain.name, domain.partner_ref, domain.status) == ("example.com", "p1", "active")


async def test_an_unreadable_domain_entry_is_left_out_and_said_why(mock_api, emboux):
    # Given a domain list whose second entry has no name
    mock_api.script("GET", "/domains", Reply(json=[
        {"name": "a.com", "partner_ref": "p1", "status": "active"},
        {"partner_ref": "p1", "status": "active"},
    ]))
    # When read leaving unusable entries out, then the others come with one line each
    unusable: list[str] = []
    assert [d.name for d in await emboux.domains(unusable=unusable)] == ["a.com"]
    assert unusable == ["EmBoux GET /domains for the master token: answered without the field "
                        "'name' (item 1, left out)"]
    # And read strictly, the list is refused naming the field
    with pytest.raises(ResponseFormatError, match="'1.name'"):
        await emboux.domains()


async def test_a_listed_name_that_is_not_a_domain_is_an_expected_error(emboux):
    # A name from the API with a slash would address another endpoint: nothing is sent
    with pytest.raises(BadNameError, match="is not a domain name"):
        await emboux.outbound("../../outbound/reset-daily")


async def test_outbound_has_every_field_of_the_seed(mock_api, emboux):
    mock_api.script("GET", "/domains/example.com/outbound", Reply(json=OUTBOUND))
    outbound = await emboux.outbound("Example.COM.")
    assert outbound.model_dump() == OUTBOUND


async def test_outbound_without_bounce_rate_names_endpoint_and_field(mock_api, emboux):
    body = {k: v for k, v in OUTBOUND.items() if k != "bounce_rate"}
    mock_api.script("GET", "/domains/example.com/outbound", Reply(json=body))
    with pytest.raises(ResponseFormatError) as caught:
        await emboux.outbound("example.com")
    assert "EmBoux GET /domains/example.com/outbound" in str(caught.value)
    assert "'bounce_rate'" in str(caught.value)


async def test_a_domain_listed_under_a_name_too_long_for_dns_is_left_out(mock_api, emboux):
    # Given a list with one name of 300 characters (DNS allows 253; the store keeps 255)
    mock_api.script("GET", "/domains", Reply(json=[
        {"name": "a.com", "partner_ref": "p1", "status": "active"},
        {"name": "x" * 296 + ".com", "partner_ref": "p1", "status": "active"},
    ]))
    unusable: list[str] = []
    # Then it is left out and said why, and the other is read
    assert [d.name for d in await emboux.domains(unusable=unusable)] == ["a.com"]
    assert len(unusable) == 1 and "'name'" in unusable[0] and "item 1" in unusable[0]


async def test_an_outbound_status_past_its_bound_is_refused_naming_the_field(mock_api, emboux):
    body = {**OUTBOUND, "outbound_status": "suspended" * 20}
    mock_api.script("GET", "/domains/example.com/outbound", Reply(json=body))
    with pytest.raises(ResponseFormatError, match="'outbound_status'"):
        await emboux.outbound("example.com")


async def test_update_sends_only_the_fields_given(mock_api, emboux):
    mock_api.script("PUT", "/domains/example.com/outbound", Reply(json=OUTBOUND))
    await emboux.update_outbound("example.com", OutboundUpdate(outbound_status="suspended"))
    assert mock_api.received[0].body == b'{"outbound_status":"suspended"}'


def test_an_update_with_a_bad_value_is_refused_before_sending():
    with pytest.raises(ValueError, match="outbound_enforcement"):
        OutboundUpdate(outbound_enforcement="lenient")


async def test_increment_answers_allowed_and_reason(mock_api, emboux):
    mock_api.script("POST", "/domains/example.com/outbound/increment", Reply(json={
        "name": "example.com", "outbound_sent_today": 501, "outbound_sent_month": 3401,
        "allowed": True, "reason": "daily_limit_exceeded_soft"}))
    result = await emboux.increment("example.com", "someone@else.example")
    assert result.allowed and result.reason == "daily_limit_exceeded_soft"
    assert mock_api.received[0].body == b'{"recipient":"someone@else.example"}'


async def test_verify_answers_the_dns_records_to_publish(mock_api, emboux):
    mock_api.script("POST", "/domains/example.com/verify", Reply(json={
        "name": "example.com", "verification_token": "v=spf1 include:mailgun.org ~all",
        "dkim_tokens": ["krs"], "verified": False, "provider": "mailgun",
        "dns_records": [{"type": "TXT", "name": "example.com", "value": "v=spf1 ~all"},
                        {"type": "CNAME", "name": "email.example.com", "value": "mailgun.org"}]}))
    response = await emboux.verify("example.com")
    assert [r.type for r in response.dns_records] == ["TXT", "CNAME"]


async def test_verify_status_parses(mock_api, emboux):
    mock_api.script("GET", "/domains/example.com/verify-status", Reply(json={
        "name": "example.com", "verified": False, "verification_status": "Pending",
        "dkim_status": "Pending", "provider": "ses"}))
    assert (await emboux.verify_status("example.com")).verification_status == "Pending"


async def test_a_provider_password_is_never_shown(mock_api, emboux):
    password = "0123456789abcdef0123456789abcdef"
    mock_api.script("POST", "/domains/tenant.com/provider-credential", Reply(json={
        "domain": "tenant.com", "provider": "mailgun", "login": "postmaster@tenant.com",
        "password": password, "patterns_installed": ["@tenant.com"],
        "sasl_path": "/etc/postfix/sasl_passwd_mailgun"}))
    credential = await emboux.create_provider_credential("tenant.com")
    assert credential.password.get_secret_value() == password
    assert password not in repr(credential) and password not in str(credential)
    assert password not in redact(f"log line with {password}")


async def test_deleting_a_credential_answers_how_many_patterns_went(mock_api, emboux):
    mock_api.script("DELETE", "/domains/tenant.com/provider-credential",
                  Reply(json={"domain": "tenant.com", "patterns_removed": 0}))
    assert (await emboux.delete_provider_credential("tenant.com")).patterns_removed == 0


async def test_reset_monthly_returns_the_frozen_counters(mock_api, emboux):
    frozen = {"name": "example.com", "partner_ref": "p1", "outbound_sent_month": 3400,
              "outbound_monthly_limit": 10000, "bounce_count": 7, "complaint_count": 1,
              "bounce_rate": 0.21, "complaint_rate": 0.03}
    mock_api.script("POST", "/outbound/reset-monthly", Reply(json={"frozen": [frozen],
                                                                  "reset_count": 1}))
    result = await emboux.reset_monthly()
    assert result.reset_count == 1 and result.frozen[0].model_dump() == frozen


async def test_reset_daily_returns_the_reset_count(mock_api, emboux):
    mock_api.script("POST", "/outbound/reset-daily", Reply(json={"reset_count": 50}))
    assert (await emboux.reset_daily()).reset_count == 50


async def test_a_domain_name_with_a_slash_is_refused(emboux):
    with pytest.raises(ValueError, match="not a domain name"):
        await emboux.outbound("../team")
