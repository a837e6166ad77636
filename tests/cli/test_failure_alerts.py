"""The failure alert's pure parts: which Slack, the trigger, the automation, and the message
rendered by Prefect's own template environment (the one the server renders it with)."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
import yaml
from pydantic import SecretStr

from deployments import JOBS, PROJECT_TAG, prefect_yaml
from deployments.alerts import (
    AUTOMATION_NAME,
    NO_SLACK,
    SLACK_POST_MESSAGE,
    TOKEN_WITHOUT_CHANNEL,
    AlertSetup,
    SlackDestination,
    failure_automation,
    failure_trigger,
    payload_template,
    slack_destination,
    webhook_block,
)
from deployments.build import build_deployments
from mailops.settings import Settings

HOOK = "https://hooks.slack.com/services/T000/B000/secret-part-of-the-hook"


def render(template: str, *, state_name: str = "Failed", message: str | None = "boom",
           deployment: str | None = "outbound-reset-daily", ui_url: str | None = None,
           run_name: str = "shiny-otter") -> tuple[dict[str, object], str]:
    """The payload as the Prefect server renders it for a run of outbound-reset-daily."""
    from prefect.server.events.jinja_filters import all_filters
    from prefect.server.schemas.core import Deployment, Flow, FlowRun
    from prefect.server.schemas.states import State, StateType
    from prefect.server.utilities.user_templates import (
        register_user_template_filters,
        render_user_template_sync,
        validate_user_template,
    )
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    register_user_template_filters(all_filters)
    validate_user_template(template)  # what the server checks when the automation is saved
    flow = Flow(name="outbound-reset-daily")
    run = FlowRun(id=uuid4(), flow_id=flow.id, name=run_name, state=State(
        type=StateType.FAILED, name=state_name, message=message))
    context: dict[str, object] = {"flow_run": run, "flow": flow}
    if deployment is not None:
        context["deployment"] = Deployment(name=deployment, flow_id=flow.id)
    # No UI URL is a server with neither setting: Prefect infers the UI's from the API's,
    # which another test's harness may have set in this process.
    settings = (temporary_settings(restore_defaults={PREFECT_UI_URL, PREFECT_API_URL})
                if ui_url is None else temporary_settings({PREFECT_UI_URL: ui_url}))
    with settings:
        body = render_user_template_sync(template, context)
    return json.loads(body), str(run.id)


def test_every_deployment_carries_the_tag_the_alert_matches():
    assert all(d.tags[0] == PROJECT_TAG for d in build_deployments("UTC"))
    deployed = yaml.safe_load(prefect_yaml("UTC"))["deployments"]
    assert [d["tags"][0] for d in deployed] == [PROJECT_TAG] * len(JOBS)
    related = failure_trigger().match_related
    assert related.model_dump() == {"prefect.resource.role": "tag",
                                    "prefect.resource.id": f"prefect.tag.{PROJECT_TAG}"}


def test_the_trigger_reacts_to_each_failed_or_crashed_type_state_at_once():
    trigger = failure_trigger()
    # by type: Prefect's TimedOut and mailops' Expired and Over cap are FAILED-type states
    # under their own names, which a trigger on prefect.flow-run.Failed would miss
    assert trigger.expect == {"prefect.flow-run.*"}
    assert trigger.match.model_dump() == {"prefect.resource.id": "prefect.flow-run.*",
                                          "prefect.state-type": ["FAILED", "CRASHED"]}
    assert (trigger.posture.value, trigger.threshold, trigger.within.total_seconds()) == (
        "Reactive", 1, 0)


def test_the_slack_destination_follows_the_settings():
    assert slack_destination(Settings()) == NO_SLACK
    assert slack_destination(Settings(slack_bot_token="xoxb-123456")) == TOKEN_WITHOUT_CHANNEL
    hook = slack_destination(Settings(slack_webhook_url=HOOK, slack_bot_token="xoxb-123456",
                                      slack_channel="#ops"))
    assert hook == SlackDestination(SecretStr(HOOK))  # the webhook first, as reports do
    bot = slack_destination(Settings(slack_bot_token="xoxb-123456", slack_channel="#ops"))
    assert isinstance(bot, SlackDestination)
    assert (bot.url.get_secret_value(), bot.channel) == (SLACK_POST_MESSAGE, "#ops")


def test_the_secrets_are_only_in_the_blocks_secret_fields():
    block = webhook_block(SlackDestination(SecretStr(HOOK)))
    assert block.url.get_secret_value() == HOOK
    assert block.headers.get_secret_value() == {"Content-Type": "application/json; charset=utf-8"}
    bot = webhook_block(SlackDestination(SecretStr(SLACK_POST_MESSAGE),
                                         SecretStr("xoxb-123456"), "#ops"))
    assert bot.headers.get_secret_value()["Authorization"] == "Bearer xoxb-123456"
    shown = bot.model_dump_json() + repr(bot)
    assert "xoxb-123456" not in shown and SLACK_POST_MESSAGE not in shown
    automation = failure_automation(uuid4(), SlackDestination(SecretStr(HOOK)))
    assert automation.name == AUTOMATION_NAME and HOOK not in automation.model_dump_json()


def test_the_message_names_the_deployment_run_and_state_and_links_the_run():
    payload, run_id = render(payload_template(), state_name="TimedOut",
                             message="Flow run exceeded timeout of 60 second(s)",
                             ui_url="http://prefect.internal:4200")
    assert payload == {"text": (
        ":rotating_light: *mailops run TimedOut*: outbound-reset-daily/outbound-reset-daily, "
        "run `shiny-otter`\nFlow run exceeded timeout of 60 second(s)\n"
        f"<http://prefect.internal:4200/runs/flow-run/{run_id}|Open the run in Prefect>")}


def test_text_from_the_run_is_escaped_for_slack_mrkdwn():
    hostile = "API said <!channel> & <https://evil.example|click> @here @Channel \"q\"\nline"
    payload, _ = render(payload_template(), message=hostile, run_name="a<b>&`")
    text = str(payload["text"])
    assert "run `a&lt;b&gt;&amp;`" in text  # (deployment names cannot hold these: Prefect)
    assert ("API said &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; "
            "@\u200bhere @\u200bChannel \"q\"\nline") in text
    assert "<!channel>" not in text and "<https://evil" not in text


def test_a_long_message_is_cut_and_a_missing_one_or_deployment_leaves_no_gap():
    payload, _ = render(payload_template(), message="x" * 5000)
    assert len(str(payload["text"])) < 1700 and str(payload["text"]).endswith("x...")
    payload, _ = render(payload_template(), message=None, deployment=None)
    assert payload == {"text": ":rotating_light: *mailops run Failed*: outbound-reset-daily, "
                               "run `shiny-otter`"}


@pytest.mark.parametrize("channel", ["#ops", "C0123ABC", 'we"ird }} {% channel'])
def test_the_bot_tokens_payload_names_the_channel(channel):
    payload, _ = render(payload_template(channel))
    assert payload["channel"] == channel and "shiny-otter" in str(payload["text"])


def test_the_setups_one_line_says_what_it_did():
    on = AlertSetup("created", "id-1", True, "the Slack webhook")
    assert on.summary().startswith("Failure alerts are on: a failed, timed-out or crashed run")
    assert "Automations page switches it off" in on.summary()
    off = AlertSetup("updated", "id-1", False, "the Slack webhook")
    assert off.summary().startswith("Failure alerts are switched off in the Prefect UI")
    assert AlertSetup("off", reason=NO_SLACK).summary() == f"Failure alerts are off: {NO_SLACK}."
    assert "removed the Prefect automation" in AlertSetup("removed", reason=NO_SLACK).summary()
