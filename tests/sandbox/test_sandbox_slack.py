"""The Slack incoming-webhook stand-in records every payload and answers like Slack."""

from __future__ import annotations

import httpx

from sandbox.server import Sandbox


def test_the_slack_stand_in_records_each_payload_exactly(clean_sandbox: Sandbox) -> None:
    # given a Block Kit payload with hostile text in it
    payload = {"text": "Daily report", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "&lt;script&gt; *bold*"}}]}
    # when it is posted to the webhook URL
    response = httpx.post(clean_sandbox.slack_webhook_url, json=payload, trust_env=False)
    # then Slack's answer comes back and the payload is recorded unchanged
    assert response.status_code == 200 and response.text == "ok"
    posts = clean_sandbox.slack_posts()
    assert [p["payload"] for p in posts] == [payload]
    assert posts[0]["status"] == 200 and posts[0]["sim_time"]


def test_the_slack_stand_in_refuses_like_slack_and_still_records(clean_sandbox: Sandbox) -> None:
    url = clean_sandbox.slack_webhook_url
    no_text = httpx.post(url, json={"username": "x"}, trust_env=False)
    invalid = httpx.post(url, content=b"not json", trust_env=False)
    wrong = httpx.post(url.rsplit("/", 1)[0] + "/wrong", json={"text": "x"}, trust_env=False)
    assert (no_text.status_code, no_text.text) == (400, "no_text")
    assert (invalid.status_code, invalid.text) == (400, "invalid_payload")
    assert (wrong.status_code, wrong.text) == (404, "no_service")
    assert [p["status"] for p in clean_sandbox.slack_posts()] == [400, 400, 404]
    assert clean_sandbox.clear_slack() == 3 and clean_sandbox.slack_posts() == []


def test_the_slack_webhook_can_be_faulted_like_any_endpoint(clean_sandbox: Sandbox) -> None:
    clean_sandbox.inject_fault("POST /slack/services/**", "rate_limit", retry_after=30)
    response = httpx.post(clean_sandbox.slack_webhook_url, json={"text": "x"}, trust_env=False)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert clean_sandbox.slack_posts() == []
