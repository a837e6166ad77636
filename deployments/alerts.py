"""The failure alert: a Prefect automation that posts to Slack when a run of any mailops
deployment fails or crashes.

Prefect's server runs it, not mailops: every state change of a flow run is an event
(`prefect.flow-run.<state name>`, its state's type among the resource's labels); the
automation's trigger matches the flow runs tagged `mailops` (every deployment carries the
tag, deployments.PROJECT_TAG, and its runs inherit it) whose new state is of type FAILED or
CRASHED, and its one action, `CallWebhook`, renders a Jinja payload on the server and POSTs
it with a `Webhook` block.

- **State types, not names.** An event's name is the state's *name*; Prefect's `TimedOut` (a
  flow over its timeout) and mailops' gated verdicts `Expired` and `Over cap` are FAILED-type
  states under other names (there is no TimedOut type), so the trigger matches the label
  `prefect.state-type` (FAILED, CRASHED) on `prefect.flow-run.*` events.
- **The secret.** The webhook URL (or the bot token) is kept only in the Webhook block: its
  `url` is a SecretStr and its `headers` a SecretDict, the server stores block data encrypted,
  and the UI and API show them masked. The automation names the block by id; no URL or token
  is in the trigger, the payload, a flow parameter or a log line.
- **Untrusted text.** The run's state message can carry an API's answer. The payload template
  escapes every value it takes from the run for Slack mrkdwn with Jinja's `replace` filter
  (`&`, `<`, `>`, as mailops.report.escape.mrkdwn does; `@channel`, `@here`, `@everyone` in
  lower, title and upper case get a zero-width space after the @) and `tojson` makes the
  body JSON. mrkdwn itself cannot be used: the server renders the template, without mailops.
  Unlike mrkdwn, the template cannot show invisible (Cf) characters as markers.
- **Slack.** With MAILOPS_SLACK_WEBHOOK_URL, the block is that incoming webhook; with
  MAILOPS_SLACK_BOT_TOKEN and MAILOPS_SLACK_CHANNEL, it is Slack's chat.postMessage with the
  token as a secret Authorization header and the channel in the payload. Neither: no alert.

Construction (`slack_destination`, `webhook_block`, `failure_trigger`, `payload_template`,
`failure_automation`) is pure; `set_up_failure_alerts` is the one function that talks to the
Prefect API. It is idempotent: one automation of that name, created or updated in place
(extra copies removed), its enabled switch left as the operator set it in the UI.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

import httpx
from prefect.automations import AutomationCore, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.exceptions import PrefectHTTPStatusError
from pydantic import SecretStr

from deployments import PROJECT_TAG
from mailops.errors import NotificationError
from mailops.secrets import redact, register_secret
from mailops.settings import Settings

AUTOMATION_NAME = "mailops: failed or crashed run to Slack"
BLOCK_NAME = "mailops-failure-alert"  # the Webhook block holding the Slack URL or token
# Run states that alert, by type: TimedOut, Expired and Over cap are FAILED-type states.
ALERT_STATE_TYPES = ("FAILED", "CRASHED")
SLACK_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
JSON = "application/json; charset=utf-8"
STATE_MESSAGE_LIMIT = 1500  # characters of the state's message in the alert
NAME_LIMIT = 200
DETAIL_LIMIT = 300  # characters of the Prefect API's answer in a setup's error line
NO_SLACK = ("no Slack is configured (MAILOPS_SLACK_WEBHOOK_URL, or MAILOPS_SLACK_BOT_TOKEN "
            "with MAILOPS_SLACK_CHANNEL)")
TOKEN_WITHOUT_CHANNEL = "MAILOPS_SLACK_BOT_TOKEN is set without MAILOPS_SLACK_CHANNEL"


# --- pure construction ----------------------------------------------------------------------


@dataclass(frozen=True)
class SlackDestination:
    """Where the alert goes: an incoming webhook, or chat.postMessage with a bot token to a
    channel. `describe` names it without its secret."""

    url: SecretStr
    token: SecretStr | None = None
    channel: str | None = None

    def describe(self) -> str:
        return f"Slack channel {self.channel}" if self.channel else "the Slack webhook"


def slack_destination(settings: Settings) -> SlackDestination | str:
    """The configured Slack (the webhook first, as mailops.report.slack chooses), or why
    there is none."""
    if settings.slack_webhook_url is not None:
        return SlackDestination(settings.slack_webhook_url)
    if settings.slack_bot_token is not None:
        if not settings.slack_channel:
            return TOKEN_WITHOUT_CHANNEL
        return SlackDestination(SecretStr(SLACK_POST_MESSAGE), settings.slack_bot_token,
                                settings.slack_channel)
    return NO_SLACK


def webhook_block(destination: SlackDestination) -> Webhook:
    """The Webhook block that POSTs the alert: the URL (a secret), the content type, and the
    bot token as a secret Authorization header."""
    for secret in (destination.url, destination.token):
        if secret is not None:
            register_secret(secret.get_secret_value())
    headers = {"Content-Type": JSON}
    if destination.token is not None:
        headers["Authorization"] = f"Bearer {destination.token.get_secret_value()}"
    return Webhook(method="POST", url=destination.url, headers=headers)


def failure_trigger() -> EventTrigger:
    """Every flow run tagged `mailops` entering a FAILED- or CRASHED-type state, each one
    at once (reactive, one event, no window)."""
    return EventTrigger(
        expect={"prefect.flow-run.*"},
        match={"prefect.resource.id": "prefect.flow-run.*",
               "prefect.state-type": list(ALERT_STATE_TYPES)},
        match_related={"prefect.resource.role": "tag",
                       "prefect.resource.id": f"prefect.tag.{PROJECT_TAG}"},
        for_each={"prefect.resource.id"},
        posture=Posture.Reactive,
        threshold=1,
        within=timedelta(0),
    )


_MENTIONS = tuple(
    f"@{case}" for word in ("channel", "here", "everyone")
    for case in (word, word.title(), word.upper())
)
# Jinja filters making a value safe in Slack mrkdwn (mailops.report.escape.mrkdwn's rule).
_MRKDWN_FILTERS = (
    '|replace("&", "&amp;")|replace("<", "&lt;")|replace(">", "&gt;")'
    + "".join(f'|replace("{m}", "@\\u200b{m[1:]}")' for m in _MENTIONS)
)

# The Slack message. The server fills in `flow_run` (its state the one of the event),
# `flow` and `deployment` from the event's resources; `ui_url` is Prefect's filter (empty
# without PREFECT_UI_URL on the server).
_TEXT = (
    "{%- macro m(value, limit=" + str(NAME_LIMIT) + ") -%}"
    "{{ (value or '')|string|truncate(limit, true, '...', 0)" + _MRKDWN_FILTERS + " }}"
    "{%- endmacro -%}"
    "{%- set link = flow_run|ui_url -%}"
    "{%- set text -%}"
    ":rotating_light: *mailops run {{ m(flow_run.state.name) }}*: "
    "{{ m(flow.name) }}{% if deployment.name %}/{{ m(deployment.name) }}{% endif %}, "
    "run `{{ m(flow_run.name) }}`"
    "{% if flow_run.state.message %}\n{{ m(flow_run.state.message, "
    + str(STATE_MESSAGE_LIMIT) + ") }}{% endif %}"
    "{% if link %}\n<{{ link }}|Open the run in Prefect>{% endif %}"
    "{%- endset -%}"
)


def payload_template(channel: str | None = None) -> str:
    """The Jinja template of the POST body: `{"text": ...}` for an incoming webhook, with
    `"channel"` for chat.postMessage."""
    fields = '"text": text'
    if channel is not None:
        fields = f'"channel": {json.dumps(channel)}, ' + fields
    return _TEXT + "{{ {" + fields + "}|tojson }}"


def failure_automation(block_id: UUID, destination: SlackDestination,
                       *, enabled: bool = True) -> AutomationCore:
    """The automation: the trigger, and the call of the Webhook block `block_id`."""
    return AutomationCore(
        name=AUTOMATION_NAME,
        description=(
            f"Set up by mailops (`mailops serve`, `mailops alerts setup`): a run of a "
            f"deployment tagged '{PROJECT_TAG}' entering a {' or '.join(ALERT_STATE_TYPES)}"
            f"-type state (Failed, TimedOut, Expired, Over cap, Crashed) posts to "
            f"{destination.describe()} through the Webhook block '{BLOCK_NAME}'. The trigger "
            "filters on the state's type, which the summary's 'enters any state' leaves out "
            "(Edit shows it). Switch it off here; mailops leaves it off."
        ),
        enabled=enabled,
        tags=[PROJECT_TAG],
        trigger=failure_trigger(),
        actions=[CallWebhook(block_document_id=block_id,
                             payload=payload_template(destination.channel))],
    )


# --- the Prefect API ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSetup:
    """What a setup did: `status` created, updated (in place), removed (no Slack any more)
    or off (no Slack, nothing to remove); `enabled` the automation's switch."""

    status: Literal["created", "updated", "removed", "off"]
    automation_id: str | None = None
    enabled: bool = False
    destination: str | None = None
    reason: str | None = None
    duplicates_removed: int = 0

    def summary(self) -> str:
        if self.status in ("removed", "off"):
            removed = (f"; removed the Prefect automation '{AUTOMATION_NAME}' set up earlier"
                       if self.status == "removed" else "")
            return f"Failure alerts are off: {self.reason}{removed}."
        done = "set up" if self.status == "created" else "updated"
        if not self.enabled:
            return (f"Failure alerts are switched off in the Prefect UI: {done} the automation "
                    f"'{AUTOMATION_NAME}', left off (switch it on under Automations).")
        return (f"Failure alerts are on: a failed, timed-out or crashed run of a mailops "
                f"deployment posts to {self.destination} (Prefect automation "
                f"'{AUTOMATION_NAME}', {done}; the Prefect UI's Automations page switches it "
                "off).")

    def data(self) -> dict[str, Any]:
        return {"status": self.status, "automation": AUTOMATION_NAME,
                "automation_id": self.automation_id, "enabled": self.enabled,
                "destination": self.destination, "reason": self.reason,
                "duplicates_removed": self.duplicates_removed}


async def set_up_failure_alerts(settings: Settings) -> AlertSetup:
    """Create or update the failure alert on the Prefect API in use (PREFECT_API_URL); with
    no Slack configured, remove the one set up earlier, if any, and say why alerts are off."""
    destination = slack_destination(settings)
    async with get_client() as client:
        existing = await client.read_automations_by_name(AUTOMATION_NAME)
        if isinstance(destination, str):
            for automation in existing:
                await client.delete_automation(automation.id)
            await _delete_block(client)
            return AlertSetup("removed" if existing else "off", reason=destination)
        block_id = await webhook_block(destination).asave(BLOCK_NAME, overwrite=True,
                                                          client=client)
        keep, extra = (existing[0], existing[1:]) if existing else (None, [])
        for automation in extra:
            await client.delete_automation(automation.id)
        enabled = keep.enabled if keep is not None else True
        wanted = failure_automation(block_id, destination, enabled=enabled)
        if keep is None:
            automation_id = await client.create_automation(wanted)
        else:
            automation_id = keep.id
            await client.update_automation(automation_id, wanted)
        return AlertSetup("updated" if keep else "created", str(automation_id), enabled,
                          destination.describe(), duplicates_removed=len(extra))


def set_up(settings: Settings) -> AlertSetup:
    """`set_up_failure_alerts` from synchronous code; a Prefect API that cannot be reached
    or refuses is a NotificationError naming it, in one line."""
    from prefect.settings import get_current_settings

    try:
        return asyncio.run(set_up_failure_alerts(settings))
    except (OSError, httpx.HTTPError, PrefectHTTPStatusError, RuntimeError) as exc:
        where = get_current_settings().api.url or "Prefect's temporary server"
        detail = str(exc).splitlines()[0][:DETAIL_LIMIT] if str(exc) else type(exc).__name__
        raise NotificationError(redact(
            f"failure alerts could not be set up on the Prefect API {where}: {detail}"
        )) from None


async def _delete_block(client: Any) -> None:
    from prefect.exceptions import ObjectNotFound

    try:
        document = await client.read_block_document_by_name(BLOCK_NAME, "webhook")
    except ObjectNotFound:
        return
    await client.delete_block_document(document.id)
