"""The one Slack renderer and sender.

Messages are Block Kit, cut to fit Slack's limits (50 blocks, 3,000 characters a section,
10 fields) with "and N more"; every string that came from an API is escaped for mrkdwn.
Delivery goes through slack-sdk (incoming webhook, or bot token and channel) with its retry
handlers for rate limits and server errors, and for connections that could not be made; a
post whose answer was lost is not sent again (Slack may have shown it: a resend would post it
twice). With no Slack configured, or when Slack fails, the payload is written to a file under
the data folder instead (the outbox), so nothing is lost: one file per message, named by
the caller (job, day or week, shard, run id), never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from mailops.errors import NotificationError
from mailops.health import HealthReport
from mailops.models.health import TeamHealth
from mailops.report.escape import mrkdwn, visible
from mailops.report.numbers import number
from mailops.rules.alerts import Alert, Severity
from mailops.rules.daily_health import alert_owner
from mailops.secrets import redact, register_secret
from mailops.settings import Settings

if TYPE_CHECKING:  # the weekly report's module imports pandas, the guard's the clients:
    from mailops.contacts import ContactCleanupResult
    from mailops.domains import VerificationWatchResult
    from mailops.guard import GuardAction  # only for the types here
    from mailops.quarantine import QuarantineAcceptResult
    from mailops.report.weekly import WeeklyReport
    from mailops.store import DomainRecord

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
SEVERITY_EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}
Block = dict[str, Any]


# --- rendering ------------------------------------------------------------------------------


def header(text: str) -> Block:
    """A header block: plain text (no markup to escape), invisible characters as markers."""
    return {"type": "header",
            "text": {"type": "plain_text", "text": visible(text)[:MAX_HEADER_TEXT]}}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}}


def fields(pairs: Sequence[tuple[str, str]], title: str | None = None) -> Block:
    """A section of up to 10 "*label*\\nvalue" fields; values must already be escaped."""
    block: Block = {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in pairs[:10]
        ],
    }
    if title:
        block["text"] = {"type": "mrkdwn", "text": title[:MAX_SECTION_TEXT]}
    return block


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}]}


def alert_line(alert: Alert) -> str:
    return f"{SEVERITY_EMOJI[alert.severity]} *{mrkdwn(alert.subject)}*: {mrkdwn(alert.message)}"


def alert_sections(found: Sequence[Alert], max_sections: int) -> list[Block]:
    """Alert lines packed into sections under the size limit, the rest counted."""
    if not found:
        return [section(":white_check_mark: No alerts - everything looks healthy")]
    blocks: list[Block] = []
    current = "*Alerts*"
    shown = 0
    for alert in found:
        line = alert_line(alert)[: MAX_SECTION_TEXT - 40]
        if len(current) + 1 + len(line) > MAX_SECTION_TEXT - 40:
            if len(blocks) + 1 >= max_sections:
                break
            blocks.append(section(current))
            current = line
        else:
            current = f"{current}\n{line}"
        shown += 1
    if shown < len(found):
        current = f"{current}\n_…and {len(found) - shown} more alerts_"
    blocks.append(section(current))
    return blocks


def team_block(team: TeamHealth) -> Block:
    return fields(
        [
            ("Weekly Usage", f"{team.weekly_used}/{team.weekly_limit} ({team.usage_pct:g}%)"),
            ("Aliases", f"{team.aliases_used}/{team.aliases_limit}"),
            ("Quarantine", f"{team.quarantine_backlog} pending"),
            ("Failed", f"{team.failed_count} messages"),
            ("Denied", f"{team.denied_count} messages"),
            ("Mailboxes", f"{team.mailboxes_used}/{team.mailboxes_limit}"),
        ],
        title=f"*{mrkdwn(team.team)}*",
    )


def daily_health_message(report: HealthReport, *, max_teams: int = 20) -> dict[str, Any]:
    """The monitoring guide's report (docs/cleanbox-api.md#monitoring-guide) for every team and
    domain, in one message within Block Kit's limits."""
    alerted = {alert_owner(a.key, a.subject) for a in report.alerts}
    teams = sorted(report.teams, key=lambda t: (t.team not in alerted, t.team.lower()))
    blocks: list[Block] = [
        header(f":mailbox_with_mail: Daily Email Health Report {report.day.isoformat()}"),
        context(
            f"{len(report.teams)} teams, {len(report.domains)} domains, "
            f"{len(report.alerts)} alerts; collected {report.as_of:%Y-%m-%d %H:%M} UTC"
        ),
    ]
    blocks.extend(team_block(team) for team in teams[:max_teams])
    if len(teams) > max_teams:
        blocks.append(context(f"…and {len(teams) - max_teams} more teams"))
    if report.domains:
        statuses = [d.outbound for d in report.domains]
        blocks.append(fields([
            ("Domains", str(len(statuses))),
            ("Suspended", str(sum(o.outbound_status == "suspended" for o in statuses))),
            ("Unverified", str(sum(not o.ses_verified for o in statuses))),
            ("Sent today", str(sum(o.outbound_sent_today for o in statuses))),
        ], title="*Outbound (EmBoux)*"))
    blocks.append({"type": "divider"})
    blocks.extend(alert_sections(report.alerts, MAX_BLOCKS - len(blocks)))
    return {
        "text": f"Daily Email Health Report {report.day.isoformat()}: {len(report.alerts)} alerts",
        "blocks": blocks[:MAX_BLOCKS],
    }


# --- delivery -------------------------------------------------------------------------------


MAX_RETRY_AFTER_SECONDS = 10  # Slack asking for a longer wait is not waited for
MAX_OUTBOX_NAMES = 100  # files one message name may take in the outbox (then an error)


def _retry_after(response: HttpResponse | None) -> float | None:
    """The answer's `Retry-After` in seconds, if it has a readable one."""
    if response is None:
        return None
    for name, value in response.headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) else value
            try:
                return float(text)
            except (TypeError, ValueError):
                return None
    return None


def _not_too_late(handler: type[RetryHandler]) -> type[RetryHandler]:
    """`handler`, except when Slack asks to come back later than a job waits: the message is
    then kept in the outbox at once rather than after minutes of waiting."""

    class NotTooLate(handler):  # type: ignore[misc, valid-type]
        def _can_retry(self, *, state: RetryState, request: HttpRequest,
                       response: HttpResponse | None = None,
                       error: Exception | None = None) -> bool:
            wait = _retry_after(response)
            if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                return False
            return bool(super()._can_retry(state=state, request=request, response=response,
                                           error=error))

    NotTooLate.__name__ = f"NotTooLate{handler.__name__}"
    return NotTooLate


@dataclass(frozen=True)
class Delivery:
    """Where a message went, in words safe to show (never the webhook URL)."""

    via: str
    where: str

    def describe(self) -> str:
        return f"{self.via} ({self.where})" if self.where else self.via


class SlackNotifier:
    """Posts messages through the configured Slack, or writes them to the outbox folder."""

    def __init__(
        self,
        *,
        webhook_url: SecretStr | None = None,
        bot_token: SecretStr | None = None,
        channel: str | None = None,
        outbox: Path = Path("data/slack"),
        timeout: int = 15,
        retries: int = 3,
    ) -> None:
        if bot_token is not None and not channel:
            raise NotificationError(
                "MAILOPS_SLACK_BOT_TOKEN is set without MAILOPS_SLACK_CHANNEL"
            )
        for secret in (webhook_url, bot_token):
            if secret is not None:
                register_secret(secret.get_secret_value())
        self._webhook_url = webhook_url
        self._bot_token = bot_token
        self._channel = channel
        self._outbox = outbox
        self._timeout = timeout
        self._retry_handlers = [
            _not_too_late(RateLimitErrorRetryHandler)(max_retry_count=retries),
            _not_too_late(ServerErrorRetryHandler)(max_retry_count=retries),
            # urllib raises URLError while connecting or sending, before Slack could have
            # acted; a connection dropped or timed out while waiting for the answer is not
            # resent (ConnectionResetError, RemoteDisconnected and timeouts come raw).
            ConnectionErrorRetryHandler(max_retry_count=retries, error_types=[URLError]),
        ]

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackNotifier:
        return cls(
            webhook_url=settings.slack_webhook_url,
            bot_token=settings.slack_bot_token,
            channel=settings.slack_channel,
            outbox=Path(settings.data_dir) / "slack",
        )

    def post(self, message: dict[str, Any], *, name: str) -> Delivery:
        """Send one message; `name` names the outbox file, used when Slack is not configured
        and when Slack fails (the error then says where the message is kept)."""
        try:
            if self._webhook_url is not None:
                return self._post_webhook(message)
            if self._bot_token is not None:
                return self._post_bot(message)
        except NotificationError as exc:
            kept = self._write_outbox(message, name)
            raise NotificationError(f"{exc}; the message is kept in {kept.where}",
                                    kept_in=kept.where) from None
        return self._write_outbox(message, name)

    def _post_webhook(self, message: dict[str, Any]) -> Delivery:
        client = WebhookClient(
            self._webhook_url.get_secret_value() if self._webhook_url else "",
            timeout=self._timeout,
            retry_handlers=self._retry_handlers,
        )
        try:
            response = client.send(text=message.get("text"), blocks=message.get("blocks"))
        except Exception as exc:  # slack-sdk raises urllib's errors as they come
            raise NotificationError(
                redact(f"Slack webhook could not be reached: {type(exc).__name__}: {exc}")
            ) from None
        if response.status_code != 200:
            raise NotificationError(
                redact(f"Slack webhook answered {response.status_code}: {response.body[:200]}")
            )
        return Delivery("Slack webhook", "")

    def _post_bot(self, message: dict[str, Any]) -> Delivery:
        client = WebClient(
            token=self._bot_token.get_secret_value() if self._bot_token else None,
            timeout=self._timeout,
            retry_handlers=self._retry_handlers,
        )
        try:
            client.chat_postMessage(
                channel=self._channel or "", text=message.get("text", ""),
                blocks=message.get("blocks"),
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown error") if exc.response else "unknown"
            raise NotificationError(redact(f"Slack refused the message: {error}")) from None
        except Exception as exc:
            raise NotificationError(
                redact(f"Slack could not be reached: {type(exc).__name__}: {exc}")
            ) from None
        return Delivery("Slack channel", self._channel or "")

    def _write_outbox(self, message: dict[str, Any], name: str) -> Delivery:
        """Keep the message in a file of its own: `<name>.json`, or, when a message of that
        name is already kept, `<name>-<hash>.json` (then `-2`, `-3`, ...). Files are
        created exclusively ('x'): a message kept earlier is never overwritten."""
        safe_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        body = json.dumps(message, indent=2, ensure_ascii=False)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:8]
        stems = [safe_name, f"{safe_name}-{digest}"]
        path = self._outbox / f"{safe_name}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, MAX_OUTBOX_NAMES + 1):
                stem = stems[attempt - 1] if attempt <= 2 else f"{stems[1]}-{attempt - 1}"
                path = self._outbox / f"{stem}.json"
                try:
                    with path.open("x", encoding="utf-8") as file:
                        file.write(body)
                except FileExistsError:
                    continue
                return Delivery("file (no Slack configured)", str(path))
        except OSError as exc:
            raise NotificationError(
                f"cannot write the Slack payload to {path}: {exc.strerror}"
            ) from None
        raise NotificationError(
            f"cannot write the Slack payload: {MAX_OUTBOX_NAMES} files named {safe_name} "
            f"are already kept in {self._outbox}"
        )


# --- contact-cleanup --------------------------------------------------------------------------


def contact_cleanup_message(
    result: ContactCleanupResult, *, max_actions: int = 15
) -> dict[str, Any]:
    """contact-cleanup's summary: counts per action and rule, the top of the plan, and
    whether it was applied, refused or only planned; every address escaped."""
    mode = "refused" if result.refused else "dry run" if result.dry_run else "applied"
    blocks: list[Block] = [
        header(f":broom: Contact cleanup ({mode})"),
        context(f"run {mrkdwn(result.run_id)}; teams: {mrkdwn(', '.join(result.teams) or 'none')}"),
        fields([
            (action.capitalize(), f"{n} planned"
             + (f", {result.applied[action]} applied" if action in result.applied else ""))
            for action, n in result.planned.items()
        ] + [("Skipped (not an address)", str(result.skipped_invalid))]),
    ]
    if result.refused:
        blocks.append(section(f":no_entry: {mrkdwn(result.refused)}"))
    if result.failed:
        blocks.append(section(
            f":warning: {len(result.failed)} changes failed; re-run the plan to finish them"
        ))
    for team, why in list(result.unreadable.items())[:10]:
        blocks.append(section(f":warning: *{mrkdwn(team)}* could not be read whole: "
                              f"{mrkdwn(why)}"))
    if result.by_rule:
        blocks.append(section("*By rule*\n" + "\n".join(
            f"{mrkdwn(rule)}: {n}"
            for rule, n in sorted(result.by_rule.items(), key=lambda x: -x[1])
        )))
    if result.actions:
        lines = [f"`{mrkdwn(a.action)}` {mrkdwn(a.email)}: {mrkdwn(a.reason)}"
                 for a in result.actions[:max_actions]]
        more = result.actions_total - len(lines)
        if more > 0:
            lines.append(f"…and {more} more")
        blocks.append(section("*Top of the plan*\n" + "\n".join(lines)))
    return {
        "text": f"Contact cleanup ({mode}): {result.actions_total} changes planned",
        "blocks": blocks[:MAX_BLOCKS],
    }


# --- outbound-guard -----------------------------------------------------------------------------

GUARD_EMOJI = {
    "healthy": ":white_check_mark:",
    "warning": ":warning:",
    "healing": ":adhesive_bandage:",
    "paused": ":octagonal_sign:",
}


def outbound_guard_message(
    mailboxes: Sequence[tuple[str, str, str, str]],
    groups: Sequence[tuple[str, str, str, str]],
    actions: Sequence[GuardAction],
    *,
    dry_run: bool,
    as_of: str,
    max_lines: int = 40,
) -> dict[str, Any]:
    """outbound-guard's transitions only: (name, from, to, detail) per mailbox and group,
    and the planned or applied actions; every API string escaped."""
    mode = "dry run" if dry_run else "applied"
    blocks: list[Block] = [
        header(f":shield: Outbound guard ({mode})"),
        context(f"{len(mailboxes)} mailbox and {len(groups)} group changes; as of "
                f"{mrkdwn(as_of)}"),
    ]
    for title, rows in (("Groups", groups), ("Mailboxes", mailboxes)):
        if not rows:
            continue
        lines = [
            f"{GUARD_EMOJI.get(new, '')} *{mrkdwn(name)}*: {mrkdwn(old)} → {mrkdwn(new)}"
            + (f" ({mrkdwn(detail)})" if detail else "")
            for name, old, new, detail in rows[:max_lines]
        ]
        if len(rows) > max_lines:
            lines.append(f"_…and {len(rows) - max_lines} more_")
        blocks.append(section(f"*{title}*\n" + "\n".join(lines)))
    if actions:
        verb = "planned" if dry_run else "applied"
        lines = [f"• {mrkdwn(a.action)} *{mrkdwn(a.domain)}*: {mrkdwn(a.reason)}"
                 for a in actions[:max_lines]]
        if len(actions) > max_lines:
            lines.append(f"_…and {len(actions) - max_lines} more_")
        blocks.append(section(f"*Actions {verb}*\n" + "\n".join(lines)))
    return {
        "text": f"Outbound guard ({mode}): {len(mailboxes)} mailbox and {len(groups)} group "
                f"status changes, {len(actions)} actions",
        "blocks": blocks[:MAX_BLOCKS],
    }


# --- quarantine-accept --------------------------------------------------------------------------


def quarantine_accept_message(
    result: QuarantineAcceptResult, *, max_messages: int = 10
) -> dict[str, Any]:
    """quarantine-accept's summary per team: backlog before and after, accepted, kept and
    why, and a few accepted senders; every address and subject escaped."""
    teams = result.teams
    mode = "refused" if result.refused else "dry run" if result.dry_run else "applied"
    blocks: list[Block] = [
        header(f":inbox_tray: Quarantine accept ({mode})"),
        context(f"run {mrkdwn(result.run_id)}; {len(teams)} teams; as of "
                f"{mrkdwn(result.as_of.isoformat())}"),
    ]
    if result.refused:
        blocks.append(section(f":no_entry: {mrkdwn(result.refused)}"))
    for team in teams[: MAX_BLOCKS - 6]:
        if team.error:
            blocks.append(section(f":warning: *{mrkdwn(team.team)}* could not be planned: "
                                  f"{mrkdwn(team.error)}"))
            continue
        if not team.acted:
            blocks.append(section(
                f"*{mrkdwn(team.team)}*: backlog {team.backlog}, not above the threshold "
                f"of {team.threshold}: nothing to do"))
            continue
        lines = [
            f"*{mrkdwn(team.team)}*: backlog {team.backlog}"
            + ("" if result.dry_run else f" → {team.backlog_after}")
            + f" (threshold {team.threshold})",
            f"{len(team.planned)} planned, {team.accepted} accepted; kept: "
            f"{team.kept.get('not_whitelisted', 0)} not whitelisted, "
            f"{team.kept.get('spam_score', 0)} spam score",
        ]
        lines += [f"• {mrkdwn(m.sender)}: {mrkdwn(m.subject)}" for m in team.top[:max_messages]]
        more = len(team.planned) - min(len(team.top), max_messages)
        if more > 0:
            lines.append(f"_…and {more} more_")
        blocks.append(section("\n".join(lines)))
    if len(teams) > MAX_BLOCKS - 6:
        blocks.append(context(f"…and {len(teams) - (MAX_BLOCKS - 6)} more teams"))
    if result.failed:
        blocks.append(section(
            f":warning: {len(result.failed)} messages were not accepted; resume the run "
            "to send them again"))
    return {
        "text": f"Quarantine accept ({mode}): {result.planned} planned, {result.accepted} "
                "accepted",
        "blocks": blocks[:MAX_BLOCKS],
    }


# --- weekly-report --------------------------------------------------------------------------


def _digest_section(title: str, lines: Sequence[str], total: int, empty: str) -> Block:
    """A titled list cut to fit one section, with "and N more" for the rest."""
    if not lines:
        return section(f"*{title}*\n{empty}")
    text = f"*{title}*"
    shown = 0
    for line in lines:
        if len(text) + len(line) + 40 > MAX_SECTION_TEXT:
            break
        text = f"{text}\n{line}"
        shown += 1
    if shown < total:
        text = f"{text}\n_…and {total - shown} more_"
    return section(text)


def weekly_report_message(
    report: WeeklyReport, *, location: str | None = None, max_lines: int = 10
) -> dict[str, Any]:
    """The weekly report's digest: thresholds crossed, forecasts, drifts, top movers, alerts
    by kind and actions, every API string escaped, within Block Kit limits."""
    forecasts, crossed, drifts = report.forecasts, report.crossed, report.drifts
    movers, kinds, actions = report.movers, report.alert_kinds, report.actions
    blocks: list[Block] = [
        header(f":bar_chart: Weekly report {report.week}"),
        context(
            f"{mrkdwn(report.start.isoformat())} to {mrkdwn(report.end.isoformat())}; "
            f"{len(report.teams)} teams, {len(report.domains)} domains"
            + (f"; team {mrkdwn(report.team_filter)} only" if report.team_filter else "")
        ),
        _digest_section(
            "Already crossed",
            [f"• *{mrkdwn(f.subject)}* ({f.scope}): {mrkdwn(f.label)} "
             f"{number(f.threshold)} (now {number(f.current)})"
             for f in crossed[:max_lines]],
            len(crossed), "No team or domain is past a threshold.",
        ),
        _digest_section(
            "Forecasts",
            [f"• *{mrkdwn(f.subject)}* ({f.scope}): {mrkdwn(f.label)} "
             f"{number(f.threshold)} crossed {mrkdwn(f.in_words())} "
             f"(trend now {number(f.level)})"
             for f in forecasts[:max_lines]],
            len(forecasts), "No threshold in sight at the current trends.",
        ),
        _digest_section(
            "Gradual drifts",
            [f"• *{mrkdwn(d.subject)}* {mrkdwn(d.metric)}: {mrkdwn(d.in_words())}"
             for d in drifts[:max_lines]],
            len(drifts), "No metric moved the same way for weeks.",
        ),
        _digest_section(
            "Top movers",
            [f"• *{mrkdwn(m.subject)}* {mrkdwn(m.metric)}: {mrkdwn(m.in_words())}"
             for m in movers[:max_lines]],
            len(movers), "Nothing moved against last week.",
        ),
        _digest_section(
            "Alerts of the week",
            [f"• {mrkdwn(k.key)} ({mrkdwn(k.severity)}): {k.count} on "
             f"{k.subjects} subjects" for k in kinds[:max_lines]],
            len(kinds), "No alerts this week.",
        ),
        _digest_section(
            "Contact and quarantine actions",
            [f"• {mrkdwn(a.kind)} {mrkdwn(a.change)} by {mrkdwn(a.job)}: {a.count}"
             for a in actions[:max_lines]],
            len(actions), "None this week.",
        ),
    ]
    if location:
        blocks.append(context(f"Full report: {mrkdwn(location)}"))
    return {
        "text": f"Weekly report {report.week}: {len(crossed)} thresholds already "
                f"crossed, {len(forecasts)} crossings ahead, {len(drifts)} drifts",
        "blocks": blocks[:MAX_BLOCKS],
    }


# --- domains ---------------------------------------------------------------------------------


def _record_cell(text: object) -> str:
    """A DNS record cell inside a code block: escaped, no backtick to break out of it."""
    return mrkdwn(str(text).replace("`", "'").replace("\n", " "))


def dns_records_table(records: Sequence[dict[str, Any]], max_chars: int = 2800) -> str:
    """The records to publish as an aligned, copyable code block (type, name, value)."""
    if not records:
        return "_No records to publish: the parent's records cover it._"
    width_type = max(4, *(len(str(r.get("type", ""))) for r in records))
    width_name = max(4, *(len(str(r.get("name", ""))) for r in records))
    lines = [f"{'TYPE':<{width_type}}  {'NAME':<{width_name}}  VALUE"]
    for record in records:
        lines.append(
            f"{_record_cell(record.get('type', '')):<{width_type}}  "
            f"{_record_cell(record.get('name', '')):<{width_name}}  "
            f"{_record_cell(record.get('value', ''))}"
        )
    text = "\n".join(lines)
    if len(text) > max_chars:
        text = text[:max_chars] + "\n…(cut; the full list is in the store)"
    return f"```\n{text}\n```"


def domain_onboarding_message(record: DomainRecord) -> dict[str, Any]:
    """A domain onboarded: how (verify or subdomain), its status and the DNS records table."""
    name = mrkdwn(record.name)
    how = (
        f"registered as a subdomain of *{mrkdwn(record.parent)}*"
        if record.parent else "verification started"
    )
    status = mrkdwn(record.status)
    return {
        "text": f"Domain {name} onboarded: {status}",
        "blocks": [
            header(f":globe_with_meridians: Domain onboarded: {record.name}"),
            section(f"*{name}*: {how} with {mrkdwn(record.provider)}; "
                    f"status *{status}*. Outbound mail stays blocked until it is verified."),
            section(f"*DNS records to publish*\n{dns_records_table(record.dns_records)}"),
        ],
    }


def verification_watch_message(
    result: VerificationWatchResult, *, max_lines: int = 20
) -> dict[str, Any]:
    """Verification changes: domains now verified, domains pending too long (with records)."""
    verified, stuck = result.verified, result.alerts
    blocks: list[Block] = [header(":hourglass: Domain verification watch")]
    if verified:
        lines = [f"• *{mrkdwn(name)}* is verified: outbound mail is now possible"
                 for name in verified[:max_lines]]
        blocks.append(_digest_section("Verified", lines, len(verified), ""))
    for alert in stuck[: MAX_BLOCKS - 3]:
        blocks.append(section(
            f"{SEVERITY_EMOJI.get(alert.severity, '')} *{mrkdwn(alert.subject)}* "
            f"{mrkdwn(alert.message)}"[:MAX_SECTION_TEXT]
        ))
    blocks.append(context(f"{result.polled} polled, {len(result.changes)} status changes"))
    return {
        "text": f"Verification watch: {len(verified)} verified, {len(stuck)} pending too long",
        "blocks": blocks[:MAX_BLOCKS],
    }
