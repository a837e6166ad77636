"""Keys never show: not in errors, logs, reprs or URLs."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr
from scripted_server import TEST_KEY, Reply

from mailops.errors import AuthError, ServerError
from mailops.secrets import MASK, install_log_redaction, redact, register_secret
from mailops.settings import Settings

pytestmark = pytest.mark.anyio


async def test_key_echoed_by_the_server_is_masked_in_the_error(mock_api, make_mock_client):
    # Given a server whose error message repeats the key it was sent
    mock_api.script("GET", "/team", Reply(401, json={"detail": f"unknown key {TEST_KEY}"}))
    # When the request fails
    with pytest.raises(AuthError) as caught:
        await make_mock_client().get("/team")
    # Then neither the message nor the fields carry the key
    assert TEST_KEY not in str(caught.value)
    assert TEST_KEY not in repr(caught.value.__dict__)
    assert MASK in str(caught.value)


async def test_key_travels_only_in_the_authorization_header(mock_api, make_mock_client):
    mock_api.script("GET", "/contacts", Reply(json={"data": [], "total_pages": 0}))
    await make_mock_client().get_all("/contacts", {"state": "unset"})
    request = mock_api.received[0]
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in request.path and TEST_KEY not in str(request.query)


async def test_no_log_line_at_any_level_contains_the_key(mock_api, make_mock_client, caplog):
    mock_api.script(
        "GET", "/team", Reply(503, json={"detail": f"bad {TEST_KEY}"}), Reply(json={})
    )
    caplog.set_level(logging.DEBUG)
    await make_mock_client().get("/team")
    assert caplog.records, "expected the retry to be logged"
    assert TEST_KEY not in caplog.text


async def test_retry_warning_names_what_is_retried(mock_api, make_mock_client, caplog):
    mock_api.script("GET", "/team", Reply(502), Reply(json={}))
    with caplog.at_level(logging.WARNING, logger="mailops.http"):
        await make_mock_client().get("/team")
    assert "Cleanbox GET /team for team 'acme': answered 502; retrying in" in caplog.text


async def test_server_error_text_is_redacted_too(mock_api, make_mock_client):
    mock_api.script("GET", "/team", Reply(503, body=f"proxy saw key={TEST_KEY}".encode()))
    with pytest.raises(ServerError) as caught:
        await make_mock_client().get("/team")
    assert TEST_KEY not in str(caught.value)


def test_client_and_settings_reprs_hide_keys(make_mock_client, monkeypatch):
    monkeypatch.setenv("MAILOPS_EMBOUX_API_KEY", "emb_master_0d9e8f7a6b5c")
    monkeypatch.setenv("MAILOPS_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/xyz123")
    settings = Settings()
    assert "emb_master_0d9e8f7a6b5c" not in repr(settings) + str(settings)
    assert "xyz123" not in repr(settings)
    assert TEST_KEY not in repr(make_mock_client()) + str(make_mock_client())


def test_installed_redaction_masks_secrets_in_every_log_record(caplog):
    register_secret("hook-token-9f8e7d6c")
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything.at.all").info("posting to %s", "https://h/hook-token-9f8e7d6c")
    assert caplog.records[-1].getMessage() == f"posting to https://h/{MASK}"


def test_redact_leaves_text_without_secrets_alone():
    assert redact("nothing secret here") == "nothing secret here"


def test_short_values_are_not_treated_as_secrets():
    register_secret("abc")
    assert redact("abc def") == "abc def"


def test_secretstr_keys_register_when_settings_load(monkeypatch):
    monkeypatch.setenv("MAILOPS_CLEANBOX_API_KEY", "cbx_env_key_55aa66bb")
    Settings()
    assert redact("x cbx_env_key_55aa66bb y") == f"x {MASK} y"
    assert SecretStr("cbx_env_key_55aa66bb") != "cbx_env_key_55aa66bb"
