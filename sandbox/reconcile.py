"""The chaos run's reconciliation: what mailops recorded against what really happened.

Pure comparisons of plain rows (the store's tables, the sandbox's journal and logs, what the
Slack stand-in received, texts to scan for keys). Each returns the differences it finds, in
words a person can act on; none is ever forgiven silently. The one allowance is the brief's:
a team or domain that could not be collected may be missing from a day when that day holds
an alert saying so. Never a wrong number.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

Row = Mapping[str, Any]

TEAM_FIELDS: tuple[str, ...] = (
    "weekly_used", "weekly_limit", "aliases_used", "aliases_limit", "mailboxes_used",
    "mailboxes_limit", "quarantine_backlog", "failed_24h", "denied_24h",
)
DOMAIN_FIELDS: tuple[str, ...] = (
    "partner_ref", "outbound_tier", "outbound_status", "outbound_daily_limit",
    "outbound_monthly_limit", "outbound_sent_today", "outbound_sent_month",
    "outbound_enforcement", "bounce_count", "complaint_count", "bounce_rate", "complaint_rate",
    "ses_verified", "warmup_profile", "spike_max_multiplier",
)
SENDER_FIELDS: tuple[str, ...] = ("email", "email_count", "state", "category")
BILLING_FIELDS: tuple[str, ...] = (
    "partner_ref", "outbound_sent_month", "outbound_monthly_limit", "bounce_count",
    "complaint_count", "bounce_rate", "complaint_rate",
)
COLLECTION_FAILED = "collection_failed"  # daily-health's alert for what it could not collect
# The audit target of each kind of change the sandbox journals, and the audited field.
AUDITED_KINDS: dict[str, tuple[str, str]] = {
    "contact_state": ("contact", "state"),
    "quarantine_release": ("quarantine", "status"),
}


@dataclass(frozen=True)
class Difference:
    """One thing mailops recorded that differs from what happened (or is missing)."""

    check: str  # metrics, audit, resets, billing, slack, secrets, corpus
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.message}"


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _instant(value: Any) -> datetime:
    """An aware instant; the store's naive times are UTC (SQLite keeps no zone)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def same(stored: Any, truth: Any) -> bool:
    """Equal values; floats within rounding of a database round trip."""
    if isinstance(stored, float) or isinstance(truth, float):
        try:
            return math.isclose(float(stored), float(truth), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return bool(stored == truth)


def _field_differences(stored: Row, truth: Row, fields: Sequence[str]) -> list[str]:
    return [f"{name} stored {stored.get(name)!r}, the sandbox showed {truth.get(name)!r}"
            for name in fields if not same(stored.get(name), truth.get(name))]


def _excused(alerts: Sequence[Row], day: str, subjects: set[str]) -> bool:
    return any(_day(a["day"]) == day and a["key"] == COLLECTION_FAILED
               and a["subject"] in subjects for a in alerts)


# --- metrics -----------------------------------------------------------------------------


def metric_differences(
    collections: Sequence[Row],
    team_rows: Sequence[Row],
    sender_rows: Sequence[Row],
    domain_rows: Sequence[Row],
    alerts: Sequence[Row],
) -> list[Difference]:
    """Every stored team and domain row against the metrics the sandbox showed at its
    collection instant; a row missing is excused only by that day's `collection_failed`
    alert naming it (or, for domains, naming the domain list)."""
    found: list[Difference] = []
    teams = {(_day(r["day"]), r["team"]): r for r in team_rows}
    domains = {(_day(r["day"]), r["domain"]): r for r in domain_rows}
    senders: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in sorted(sender_rows, key=lambda r: r["rank"]):
        senders[(_day(row["day"]), row["team"])].append(row)
    expected_teams: set[tuple[str, str]] = set()
    expected_domains: set[tuple[str, str]] = set()
    for collection in collections:
        day, at = collection["day"], _instant(collection["at"])
        for name, truth in collection["teams"].items():
            expected_teams.add((day, name))
            subject = f"team {name} on {day}"
            row = teams.get((day, name))
            if row is None:
                if not _excused(alerts, day, {f"Cleanbox {name}"}):
                    found.append(Difference("metrics", subject,
                                            "no row stored and no alert saying why"))
                continue
            found += _stored_row(subject, row, truth, TEAM_FIELDS, at)
            top = [{f: s[f] for f in SENDER_FIELDS} for s in senders.get((day, name), [])]
            shown = [{f: s[f] for f in SENDER_FIELDS} for s in truth["top_senders"]]
            if top != shown:  # the truth was recorded with as many senders as are collected
                found.append(Difference("metrics", subject,
                                        f"top senders stored {top!r}, the sandbox showed "
                                        f"{truth['top_senders']!r}"))
        for name, truth in collection["domains"].items():
            expected_domains.add((day, name))
            subject = f"domain {name} on {day}"
            row = domains.get((day, name))
            if row is None:
                if not _excused(alerts, day, {f"EmBoux {name}", "EmBoux domains"}):
                    found.append(Difference("metrics", subject,
                                            "no row stored and no alert saying why"))
                continue
            found += _stored_row(subject, row, truth, DOMAIN_FIELDS, at)
    for day, name in sorted(set(teams) - expected_teams):
        found.append(Difference("metrics", f"team {name} on {day}",
                                "a row stored for a collection the sandbox never saw"))
    for day, name in sorted(set(domains) - expected_domains):
        found.append(Difference("metrics", f"domain {name} on {day}",
                                "a row stored for a collection the sandbox never saw"))
    return found


def _stored_row(
    subject: str, row: Row, truth: Row, fields: Sequence[str], at: datetime
) -> list[Difference]:
    problems = _field_differences(row, truth, fields)
    if _instant(row["collected_at"]) != at:
        problems.append(f"collected_at {row['collected_at']} is not the collection instant "
                        f"{at.isoformat()}")
    return [Difference("metrics", subject, "; ".join(problems))] if problems else []


# --- audit ----------------------------------------------------------------------------------

AuditKey = tuple[str, str, str, str, str, str]  # kind, subject, target, field, old, new


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def journal_key(change: Row) -> AuditKey:
    """The audit row a change the sandbox applied must have, as a comparable key."""
    kind = change["kind"]
    if kind in AUDITED_KINDS:
        prefix, field = AUDITED_KINDS[kind]
        return (prefix, change["subject"], change["target"], field, _text(change["old"]),
                _text(change["new"]))
    return ("domain", "", change["target"], kind, _text(change["old"]), _text(change["new"]))


def audit_key(row: Row) -> AuditKey:
    """An audit row as the same key: `contact:<team>:<uuid>`, `quarantine:<team>:<uuid>`,
    `domain:<name>` (team names may hold colons, uuids and domains do not)."""
    kind, _, rest = str(row["target"]).partition(":")
    subject, target = ("", rest) if kind == "domain" else rest.rpartition(":")[::2]
    return (kind, subject, target, row["field"], _text(row["old_value"]),
            _text(row["new_value"]))


def _describe(key: AuditKey) -> str:
    kind, subject, target, field, old, new = key
    where = f"{kind}:{subject}:{target}" if subject else f"{kind}:{target}"
    return f"{where} {field} {old or 'none'} -> {new or 'none'}"


def audit_differences(changes: Sequence[Row], audit_rows: Sequence[Row]) -> list[Difference]:
    """Exactly one audit row for every change the sandbox applied, and a change in the
    sandbox for every audit row (as many of each, change for change)."""
    applied = Counter(journal_key(c) for c in changes)
    audited = Counter(audit_key(r) for r in audit_rows)
    found = []
    for key in sorted(set(applied) | set(audited)):
        made, rows = applied[key], audited[key]
        if made == rows:
            continue
        if rows < made:
            message = (f"applied {made} time(s) in the sandbox but audited {rows} time(s): "
                       "a change without its audit row")
        elif made == 0:
            message = f"audited {rows} time(s) but never applied in the sandbox"
        else:
            message = (f"audited {rows} times for {made} change(s) in the sandbox: a "
                       "duplicated audit row")
        found.append(Difference("audit", _describe(key), message))
    return found


# --- resets and billing -------------------------------------------------------------------


def billed_period(call_time: Any) -> str:
    """The month a monthly reset bills: the one before the month it runs in (the 1st)."""
    first = _instant(call_time).date().replace(day=1)
    last = first - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def reset_differences(
    daily_calls: Sequence[Any],
    monthly_calls: Sequence[Any],
    days: Iterable[str],
    periods: Iterable[str],
) -> list[Difference]:
    """Exactly one daily reset reached the sandbox on every scheduled UTC day and one
    monthly reset for every scheduled period; none on any other day or for another month."""
    found = []
    per_day = Counter(_instant(c).date().isoformat() for c in daily_calls)
    for day in sorted(set(days) | set(per_day)):
        if per_day[day] != 1:
            found.append(Difference("resets", f"reset-daily {day}",
                                    f"{per_day[day]} daily resets reached the sandbox, not 1"))
    per_period = Counter(billed_period(c) for c in monthly_calls)
    for period in sorted(set(periods) | set(per_period)):
        if per_period[period] != 1:
            found.append(Difference(
                "resets", f"reset-monthly {period}",
                f"{per_period[period]} monthly resets reached the sandbox, not 1"))
    return found


def billing_differences(
    monthly_calls: Sequence[Any],
    frozen: Sequence[Sequence[Row]],
    billing_rows: Sequence[Row],
) -> list[Difference]:
    """Each period's billing rows equal the counters the sandbox held just before that
    period's monthly reset (what the reset froze), domain for domain."""
    found = []
    stored: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in billing_rows:
        stored[row["period"]][row["domain"]] = row
    truth: dict[str, dict[str, Row]] = {}
    for call, rows in zip(monthly_calls, frozen, strict=True):
        truth.setdefault(billed_period(call), {r["name"]: r for r in rows})
    for period in sorted(set(stored) | set(truth)):
        held, billed = truth.get(period), stored.get(period, {})
        if held is None:
            found.append(Difference("billing", period,
                                    f"{len(billed)} billing rows but no monthly reset froze "
                                    "this month in the sandbox"))
            continue
        for name in sorted(set(held) | set(billed)):
            if name not in billed:
                found.append(Difference("billing", f"{period} {name}",
                                        "frozen by the reset but no billing row"))
            elif name not in held:
                found.append(Difference("billing", f"{period} {name}",
                                        "billed but not among the counters the reset froze"))
            else:
                problems = _field_differences(billed[name], held[name], BILLING_FIELDS)
                if problems:
                    found.append(Difference("billing", f"{period} {name}", "; ".join(problems)))
    return found


# --- Slack ------------------------------------------------------------------------------------


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def slack_differences(posts: Sequence[Row]) -> list[Difference]:
    """What the Slack stand-in received: no message twice (the same payload more than once
    is one event posted twice), and every message one Slack accepts."""
    found = []
    seen = Counter(_canonical(p.get("payload")) for p in posts)
    for text, count in seen.items():
        if count > 1:
            payload = json.loads(text)
            title = payload.get("text") if isinstance(payload, dict) else None
            found.append(Difference("slack", str(title or text[:80]),
                                    f"the same message was posted {count} times"))
    for post in posts:
        if post.get("status") != 200:
            payload = post.get("payload")
            title = payload.get("text") if isinstance(payload, dict) else post.get("raw")
            found.append(Difference("slack", str(title)[:80],
                                    f"Slack refused the post ({post.get('status')})"))
    return found


GUARD_HEADER = ":shield: Outbound guard"
_GUARD_LINE = re.compile(r"^\S* ?\*(?P<name>.+?)\*: (?P<old>\w+) → (?P<new>\w+)")
_MORE = re.compile(r"^_…and \d+ more_$")
Transition = tuple[str, str, str, bool]  # name ("Mailboxes x" or "Groups x"), from, to, cut


UNAPPLIED_KINDS = frozenset({"error", "rate_limit", "hang", "down"})  # the app never ran


def _message(payload: Any) -> str:
    """A Slack message's identity: its text and blocks (what a person sees)."""
    if not isinstance(payload, dict):
        return _canonical(payload)
    return _canonical({"text": payload.get("text"), "blocks": payload.get("blocks")})


def slack_lost_differences(
    faulted: Sequence[Row], received: Sequence[Any], outbox: Sequence[Any]
) -> list[Difference]:
    """Every message a job tried to post and Slack never got (the fault answered for it)
    was posted again later or is kept in the outbox: no message lost."""
    kept = {_message(p) for p in [*received, *outbox]}
    found = []
    for request in faulted:
        if request["kind"] not in UNAPPLIED_KINDS or not str(request["path"]).startswith(
                "/slack/"):
            continue
        try:
            payload = json.loads(request["body"])
        except ValueError:
            continue  # not a message mailops built (Slack refuses it anyway)
        if _message(payload) not in kept:
            title = payload.get("text") if isinstance(payload, dict) else None
            found.append(Difference(
                "slack", str(title or request["path"])[:80],
                f"the post failed ({request['kind']}) and the message is neither in what "
                "Slack received later nor in the outbox: lost"))
    return found


def guard_transitions(payloads: Iterable[Any]) -> list[list[Transition]]:
    """The status changes each outbound-guard post announced, post by post, read back from
    the sections `outbound_guard_message` renders ("*Groups*", "*Mailboxes*", one
    `*name*: old → new` line each); a section cut short ("…and N more") is marked."""
    posts: list[list[Transition]] = []
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        blocks = payload.get("blocks") or []
        head = blocks[0].get("text", {}).get("text", "") if blocks else ""
        if not head.startswith(GUARD_HEADER):
            continue
        found: list[Transition] = []
        for block in blocks[1:]:
            lines = str(block.get("text", {}).get("text", "")).split("\n")
            title = lines[0].strip("*")
            if title not in ("Groups", "Mailboxes"):
                continue
            cut = any(_MORE.match(line) for line in lines[1:])
            for line in lines[1:]:
                match = _GUARD_LINE.match(line)
                if match:
                    found.append((f"{title} {match['name']}", match["old"], match["new"], cut))
        posts.append(found)
    return posts


_AS_OF = re.compile(r"as of (\S+)$")


def guard_posts_in_order(received: Sequence[Any], outbox: Sequence[Any]) -> list[Any]:
    """The guard's messages as they were meant to reach Slack: those it received and those
    kept in the outbox when the post failed (a lost answer leaves one in both: once), in
    the order of the polls they report (the "as of" of their context line)."""
    def as_of(payload: Any) -> str:
        blocks = payload.get("blocks") or []
        line = blocks[1].get("elements", [{}])[0].get("text", "") if len(blocks) > 1 else ""
        found = _AS_OF.search(line)
        return _instant(found.group(1)).isoformat() if found else ""

    unique = {_canonical(p): p for p in [*received, *outbox]
              if isinstance(p, dict) and guard_transitions([p])}
    return sorted(unique.values(), key=as_of)


def guard_transition_differences(posts: Sequence[Sequence[Transition]]) -> list[Difference]:
    """The guard's posted status changes, in order, form one chain per mailbox or group,
    starting healthy: each starts where the last one posted ended, so none is posted twice
    and none is lost. After a post cut short, the hidden names' next change is not checked."""
    found = []
    last: dict[str, tuple[str, int]] = {}  # name: (status last posted, index of that post)
    last_cut = -1
    for index, post in enumerate(posts):
        for name, old, new, _ in post:
            before, posted_at = last.get(name, ("healthy", -1))
            if last_cut <= posted_at and before != old:
                found.append(Difference(
                    "slack", name,
                    f"posted {old} -> {new} after the last post had left it {before}: a "
                    "status change posted twice, or one lost"))
            last[name] = (new, index)
        if any(cut for *_, cut in post):
            last_cut = index
    return found


# --- secrets ---------------------------------------------------------------------------------


def secret_findings(
    secrets: Mapping[str, str], places: Iterable[tuple[str, str]]
) -> list[Difference]:
    """Every place (name, text) where a secret in use (label: value) appears; the finding
    names the secret by its label, never by its value."""
    values = {label: value for label, value in secrets.items() if value}
    found = []
    for where, text in places:
        for label, value in values.items():
            if value in text:
                found.append(Difference("secrets", where, f"holds the {label}"))
    return found
