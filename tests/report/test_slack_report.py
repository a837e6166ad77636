"""The Slack report: the monitoring guide's shape (docs/cleanbox-api.md#monitoring-guide),
Block Kit's limits, escaping, and delivery."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from scripted_server import Reply

from mailops.errors import NotificationError
from mailops.health import HealthReport
from mailops.models.health import TeamHealth, TopSender
from mailops.report.slack import MAX_BLOCKS, MAX_SECTION_TEXT, SlackNotifier, daily_health_message
from mailops.rules.alerts import Alert, Severity


def team(name: str = "acme", **changes) -> TeamHealth:
    base = dict(team=name, weekly_used=800, weekly_limit=1000, usage_pct=80.0, aliases_used=1,
                aliases_limit=10, mailboxes_used=1, mailboxes_limit=5, quarantine_backlog=12,
                failed_count=6, denied_count=2, top_senders=[])
    return TeamHealth(**{**base, **changes})


def report(teams=None, alerts=None) -> HealthReport:
    return HealthReport(date(2026, 10, 4), datetime(2026, 10, 4, 8, tzinfo=UTC),
                        teams or [team()], [], alerts or [], [])


def texts(message) -> str:
    return json.dumps(message["blocks"])


def test_the_report_has_seed_000s_header_fields_and_all_clear_line():
    message = daily_health_message(report())
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header" and "Daily Email Health Report" in texts(message)
    labels = [f["text"].split("\n")[0] for f in blocks[2]["fields"]]
    assert labels[:4] == ["*Weekly Usage*", "*Aliases*", "*Quarantine*", "*Failed*"]
    assert "No alerts - everything looks healthy" in texts(message)


def test_text_from_the_api_cannot_mention_the_channel_or_smuggle_a_link():
    hostile = "<!channel> <https://evil.example|click here> & co"
    alert = Alert("unset_high_volume_sender", Severity.WARNING, f"acme / {hostile}",
                  f"High-volume unset contact: {hostile} (99 emails)", 99, 50)
    message = daily_health_message(report([team(hostile)], [alert]))
    rendered = texts(message)
    assert "<!channel>" not in rendered and "<https://" not in rendered
    assert "&lt;!channel&gt;" in rendered and "&amp; co" in rendered


def test_two_hundred_teams_and_a_thousand_alerts_fit_in_one_message():
    teams = [team(f"team-{n:03d}") for n in range(200)]
    alerts = [Alert("quarantine_backlog", Severity.WARNING, f"team-{n:03d}", "x" * 120, 12, 10)
              for n in range(1000)]
    message = daily_health_message(report(teams, alerts))
    blocks = message["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in blocks)
    assert "more teams" in texts(message) and "more alerts" in texts(message)


def test_teams_with_alerts_are_shown_first():
    teams = [team("aaa"), team("zzz")]
    alerts = [Alert("quarantine_backlog", Severity.WARNING, "zzz", "12 waiting", 12, 10)]
    blocks = daily_health_message(report(teams, alerts))["blocks"]
    assert blocks[2]["text"]["text"] == "*zzz*"


def test_top_senders_do_not_break_rendering():
    sender = TopSender("=HYPERLINK(\"x\")@evil.xyz", 80, "unset", None)
    assert daily_health_message(report([team(top_senders=[sender])]))["blocks"]


def test_without_slack_the_payload_is_written_under_the_data_folder(tmp_path):
    notifier = SlackNotifier(outbox=tmp_path / "slack")
    delivery = notifier.post({"text": "hi", "blocks": []}, name="daily-health-2026-10-04")
    written = tmp_path / "slack" / "daily-health-2026-10-04.json"
    assert delivery.where == str(written)
    assert json.loads(written.read_text())["text"] == "hi"


def test_a_message_of_a_name_already_kept_is_kept_beside_it_never_over_it(tmp_path):
    # Given a message kept in the outbox under a name
    notifier = SlackNotifier(outbox=tmp_path / "slack")
    first = notifier.post({"text": "first"}, name="daily-health-2026-10-04")
    # When two more messages come under the same name (a resumed run, the same text twice)
    second = notifier.post({"text": "second"}, name="daily-health-2026-10-04")
    third = notifier.post({"text": "second"}, name="daily-health-2026-10-04")
    # Then each has a file of its own and the first is untouched
    assert len({first.where, second.where, third.where}) == 3
    assert json.loads(Path(first.where).read_text()) == {"text": "first"}
    assert [json.loads(Path(d.where).read_text())["text"] for d in (second, third)] == [
        "second", "second"]
    assert len(list((tmp_path / "slack").glob("*.json"))) == 3


def test_a_refused_webhook_post_is_an_error_without_the_url(server, tmp_path):
    webhook = f"{server.url}/services/T000/B000/secret-token-abcdef"
    server.script("POST", "/services/T000/B000/secret-token-abcdef",
                  Reply(404, body=b"no_service"))
    notifier = SlackNotifier(webhook_url=SecretStr(webhook), outbox=tmp_path / "slack")
    with pytest.raises(NotificationError) as caught:
        notifier.post({"text": "hi"}, name="x")
    assert "404" in str(caught.value) and "secret-token-abcdef" not in str(caught.value)


def test_a_post_slack_fails_is_kept_in_the_outbox(server, tmp_path):
    # Given a webhook that keeps answering 503
    server.script("POST", "/services/T000/B000/token", Reply(503, body=b"unavailable"))
    notifier = SlackNotifier(webhook_url=SecretStr(f"{server.url}/services/T000/B000/token"),
                             outbox=tmp_path / "slack", retries=1)
    # When a message is posted
    with pytest.raises(NotificationError) as caught:
        notifier.post({"text": "hi", "blocks": []}, name="daily-health-2026-10-04")
    # Then the error says where the message is kept, and the file holds it
    kept = tmp_path / "slack" / "daily-health-2026-10-04.json"
    assert caught.value.kept_in == str(kept) and str(kept) in str(caught.value)
    assert json.loads(kept.read_text()) == {"text": "hi", "blocks": []}


def test_an_outage_asking_to_come_back_later_is_not_waited_for(server, tmp_path):
    # Given a webhook down with Retry-After: 60
    server.script("POST", "/services/T000/B000/token",
                  Reply(503, body=b"down", headers={"Retry-After": "60"}))
    notifier = SlackNotifier(webhook_url=SecretStr(f"{server.url}/services/T000/B000/token"),
                             outbox=tmp_path / "slack")
    # When a message is posted, then it is kept in the outbox after one try, not four
    with pytest.raises(NotificationError) as caught:
        notifier.post({"text": "hi"}, name="x")
    kept = tmp_path / "slack" / "x.json"
    assert caught.value.kept_in == str(kept) and len(server.received) == 1
    assert json.loads(kept.read_text()) == {"text": "hi"}


def test_a_post_whose_answer_was_lost_is_not_sent_again(tmp_path):
    # Given the Slack stand-in, whose first answer is lost after it recorded the post
    from sandbox.server import Sandbox

    with Sandbox.start(seed=7) as sandbox:
        sandbox.inject_fault("POST /slack/**", "lost_response", count=1)
        notifier = SlackNotifier(webhook_url=SecretStr(sandbox.slack_webhook_url),
                                 outbox=tmp_path / "slack")
        # When a message is posted
        with pytest.raises(NotificationError) as caught:
            notifier.post({"text": "once"}, name="x")
        # Then Slack got it once (a resend would show it twice), and the outbox keeps it
        assert [p["payload"] for p in sandbox.slack_posts()] == [{"text": "once"}]
    kept = tmp_path / "slack" / "x.json"
    assert caught.value.kept_in == str(kept) and json.loads(kept.read_text()) == {"text": "once"}


def test_a_webhook_that_cannot_be_reached_is_kept_in_the_outbox(tmp_path):
    # Given a webhook on a port nobody listens on (the connection is refused)
    from mailops.ports import free_port

    port = free_port()
    notifier = SlackNotifier(webhook_url=SecretStr(f"http://127.0.0.1:{port}/services/T/B/x"),
                             outbox=tmp_path / "slack", retries=2)
    # When a message is posted, then it fails in one line and is kept
    with pytest.raises(NotificationError, match="could not be reached") as caught:
        notifier.post({"text": "hi"}, name="x")
    kept = tmp_path / "slack" / "x.json"
    assert caught.value.kept_in == str(kept) and json.loads(kept.read_text()) == {"text": "hi"}


def test_a_bot_token_needs_a_channel():
    with pytest.raises(NotificationError, match="MAILOPS_SLACK_CHANNEL"):
        SlackNotifier(bot_token=SecretStr("xoxb-123456"))


def test_a_right_to_left_override_in_a_sender_is_shown_as_a_marker_in_the_payload():
    # Given a team and an alert naming a sender whose U+202E makes it read as another address
    sender = "\u202egnp.exe@rtl.example"
    alert = Alert("unset_high_volume_sender", Severity.WARNING, f"acme / {sender}",
                  f"High-volume unset contact: {sender} (99 emails)", 99, 50)
    # When the daily report is rendered for Slack
    message = daily_health_message(report([team(f"team {sender}")], [alert]))
    # Then no text of the payload carries the override, and each place shows its marker
    payload = json.dumps(message, ensure_ascii=False)
    assert "\u202e" not in payload
    assert payload.count("&lt;U+202E&gt;gnp.exe@rtl.example") == 3
