"""The simulated Cleanbox data of each team: contacts, messages, quarantine and ground truth.

Rows are stored column-wise (arrays, bytearrays, lists) so a team can hold a million contacts in
little memory, and UUIDs are derived from row numbers (see ids.py). Listings in a sort order
come from a cached index per (state, sort) that a state change updates in place (bisect), so a
blocked contact leaves the `unset` listing at once without a full sort per request; bulk changes
from simulated traffic drop the cache and the next request rebuilds it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.ids import KIND_CONTACT, KIND_MESSAGE, iso, make_uuid, parse_uuid

STATES: tuple[str, ...] = ("unset", "blocked", "whitelisted", "muted")
STATUSES: tuple[str, ...] = ("delivered", "failed", "denied", "quarantined")
SORTS: tuple[str, ...] = ("", "emailCount", "createdAt")
ALL = -1
DELIVERED, FAILED, DENIED, QUARANTINED = range(4)
UNSET, BLOCKED, WHITELISTED, MUTED = range(4)
KIND_LEGIT, KIND_NEWSLETTER, KIND_SPAM = range(3)


def day_of(ts: float) -> str:
    """The UTC date of an epoch time, as the ISO string truth is keyed by."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


class Contacts:
    """One team's contacts, column-wise, with cached sorted listings."""

    def __init__(self) -> None:
        self.emails: list[str] = []
        self.by_email: dict[str, int] = {}
        self.counts = array("q")
        self.states = bytearray()
        self.categories = array("b")
        self.created = array("q")
        self.subs = bytearray()
        self.kinds = bytearray()
        self._orders: dict[tuple[int, str], list[int]] = {}
        self._stale = False

    def __len__(self) -> int:
        return len(self.emails)

    def add(
        self, email: str, count: int, state: int, category: int, created: int, subs: bool, kind: int
    ) -> int:
        """Append a contact and return its row; cached listings are rebuilt on next use."""
        idx = len(self.emails)
        self.emails.append(email)
        self.by_email[email.lower()] = idx
        self.counts.append(count)
        self.states.append(state)
        self.categories.append(category)
        self.created.append(created)
        self.subs.append(1 if subs else 0)
        self.kinds.append(kind)
        self._stale = True
        return idx

    def bump(self, idx: int) -> None:
        """Count one more email from a contact (simulated traffic; marks listings stale)."""
        self.counts[idx] += 1
        self._stale = True

    def invalidate(self) -> None:
        """Drop every cached listing; the next request rebuilds what it needs."""
        self._stale = True

    def _key(self, sort: str) -> Callable[[int], object]:
        if sort == "emailCount":
            counts = self.counts
            return lambda i: (counts[i], i)
        if sort == "createdAt":
            created = self.created
            return lambda i: (created[i], i)
        return lambda i: i

    def order(self, state: int, sort: str) -> list[int]:
        """Rows with this state (ALL for any) in ascending sort order; cached until changed."""
        if self._stale:
            self._orders.clear()
            self._stale = False
        cached = self._orders.get((state, sort))
        if cached is not None:
            return cached
        rows: list[int]
        if sort == "emailCount":
            rows = sorted(range(len(self.emails)), key=self.counts.__getitem__)
        elif sort == "createdAt":
            rows = sorted(range(len(self.emails)), key=self.created.__getitem__)
        else:
            rows = list(range(len(self.emails)))
        if state != ALL:
            states = self.states
            rows = [i for i in rows if states[i] == state]
        self._orders[(state, sort)] = rows
        return rows

    def set_state(self, idx: int, state: int) -> None:
        """Change one contact's state and move it between the cached listings at once."""
        old = self.states[idx]
        if old == state:
            return
        if not self._stale:
            for (st, sort), rows in self._orders.items():
                key = self._key(sort)
                if st == old:
                    pos = bisect_left(rows, key(idx), key=key)
                    if pos < len(rows) and rows[pos] == idx:
                        del rows[pos]
                elif st == state:
                    insort(rows, idx, key=key)
        self.states[idx] = state

    def to_json(self, idx: int, salt: tuple[int, int, int], categories: list[dict]) -> dict:
        """The API shape of one contact."""
        cat = self.categories[idx]
        return {
            "uuid": make_uuid(salt, KIND_CONTACT, idx),
            "email": self.emails[idx],
            "email_count": self.counts[idx],
            "state": STATES[self.states[idx]],
            "category": categories[cat] if cat >= 0 else None,
            "created_at": iso(self.created[idx]),
            "has_subscriptions": bool(self.subs[idx]),
        }


class Messages:
    """One team's messages in arrival order, indexed by status and by sender address."""

    def __init__(self) -> None:
        self.senders: list[str] = []
        self.addrs: list[str] = []
        self.to: list[str] = []
        self.subjects: list[str] = []
        self.statuses = bytearray()
        self.scores = array("d")
        self.at = array("q")
        self.by_status: list[list[int]] = [[] for _ in STATUSES]
        self.by_addr: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.senders)

    def add(
        self, sender: str, addr: str, to: str, subject: str, status: int, score: float, at: int
    ) -> int:
        """Append a message (arrival times must not go backwards) and return its row."""
        idx = len(self.senders)
        self.senders.append(sender)
        self.addrs.append(addr)
        self.to.append(to)
        self.subjects.append(subject)
        self.statuses.append(status)
        self.scores.append(score)
        self.at.append(at)
        self.by_status[status].append(idx)
        self.by_addr.setdefault(addr, []).append(idx)
        return idx

    def release(self, idx: int) -> bool:
        """Release a quarantined message (it becomes delivered); False when it was not held."""
        if self.statuses[idx] != QUARANTINED:
            return False
        held = self.by_status[QUARANTINED]
        pos = bisect_left(held, idx)
        del held[pos]
        insort(self.by_status[DELIVERED], idx)
        self.statuses[idx] = DELIVERED
        return True

    def select(
        self, status: int, addr: str | None, since: float | None
    ) -> tuple[Sequence[int], int]:
        """Rows matching the filters, ascending, as (sequence, first usable position)."""
        rows: Sequence[int]
        if addr is not None:
            rows = self.by_addr.get(addr, [])
            if status != ALL:
                statuses = self.statuses
                rows = [i for i in rows if statuses[i] == status]
        elif status != ALL:
            rows = self.by_status[status]
        else:
            rows = range(len(self.senders))
        start = 0
        if since is not None:
            at = self.at
            start = bisect_left(rows, since, key=lambda i: at[i])
        return rows, start

    def message_json(self, idx: int, salt: tuple[int, int, int]) -> dict:
        """The API shape of one message."""
        return {
            "uuid": make_uuid(salt, KIND_MESSAGE, idx),
            "from": self.senders[idx],
            "to": self.to[idx],
            "subject": self.subjects[idx],
            "status": STATUSES[self.statuses[idx]],
            "spam_score": self.scores[idx],
            "received_at": iso(self.at[idx]),
        }

    def quarantine_json(self, idx: int, salt: tuple[int, int, int]) -> dict:
        """The API shape of one quarantined message."""
        return {
            "uuid": make_uuid(salt, KIND_MESSAGE, idx),
            "from": self.senders[idx],
            "to": self.to[idx],
            "subject": self.subjects[idx],
            "received_at": iso(self.at[idx]),
            "spam_score": self.scores[idx],
        }


@dataclass
class TeamProfile:
    """How a team's inbound traffic behaves, and whether and when it deteriorates."""

    daily_messages: float
    fail_rate: float
    new_sender_rate: float
    deteriorates_from: float | None = None  # epoch seconds; None for a steady team
    growth_per_week: float = 0.0


@dataclass
class DayTruth:
    """What really happened to one team on one simulated day."""

    messages: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    arrived: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    quarantine_backlog: int | None = None
    weekly_used: int | None = None

    def to_json(self) -> dict:
        return {
            "messages": dict(zip(STATUSES, self.messages, strict=True)),
            "arrived": dict(zip(STATUSES, self.arrived, strict=True)),
            "quarantine_backlog": self.quarantine_backlog,
            "weekly_used": self.weekly_used,
        }


@dataclass
class Team:
    """One Cleanbox team: its key, limits, usage, contacts, messages and ground truth."""

    number: int
    id: str
    name: str
    key: str
    salt: tuple[int, int, int]
    domain: str
    aliases: list[str]
    weekly_limit: int
    aliases_limit: int
    mailboxes_used: int
    mailboxes_limit: int
    profile: TeamProfile
    weekly_used: int = 0
    contacts: Contacts = field(default_factory=Contacts)
    messages: Messages = field(default_factory=Messages)
    days: dict[str, DayTruth] = field(default_factory=dict)

    def receive(
        self, sender: str, addr: str, to: str, subject: str, status: int, score: float, at: int
    ) -> int:
        """Record an inbound message: the message, usage and the day's truth."""
        idx = self.messages.add(sender, addr, to, subject, status, score, at)
        self.weekly_used += 1
        day = self.days.setdefault(day_of(at), DayTruth())
        day.messages[status] += 1
        day.arrived[status] += 1
        return idx

    def accept(self, uuid: str) -> bool:
        """Release one quarantined message by UUID; False when unknown or already released."""
        idx = parse_uuid(self.salt, KIND_MESSAGE, uuid)
        if idx is None or idx >= len(self.messages) or not self.messages.release(idx):
            return False
        day = self.days.setdefault(day_of(self.messages.at[idx]), DayTruth())
        day.messages[QUARANTINED] -= 1
        day.messages[DELIVERED] += 1
        return True

    def close_day(self, day: str) -> None:
        """Snapshot the end-of-day backlog and usage into that day's truth."""
        truth = self.days.setdefault(day, DayTruth())
        truth.quarantine_backlog = len(self.messages.by_status[QUARANTINED])
        truth.weekly_used = self.weekly_used

    def truth(self, today: str) -> dict:
        """Ground truth per day, with today's backlog and usage as they stand now."""
        days = {d: t.to_json() for d, t in sorted(self.days.items())}
        now = days.setdefault(today, DayTruth().to_json())
        now["quarantine_backlog"] = len(self.messages.by_status[QUARANTINED])
        now["weekly_used"] = self.weekly_used
        return {
            "id": self.id,
            "name": self.name,
            "weekly_used": self.weekly_used,
            "weekly_limit": self.weekly_limit,
            "quarantine_backlog": len(self.messages.by_status[QUARANTINED]),
            "contacts": len(self.contacts),
            "contacts_by_state": {
                s: self.contacts.states.count(i) for i, s in enumerate(STATES)
            },
            "days": days,
        }

    def team_json(self) -> dict:
        """The API shape of GET /team."""
        return {
            "id": self.id,
            "name": self.name,
            "usage": {"weekly_used": self.weekly_used, "weekly_limit": self.weekly_limit},
            "limits": {
                "aliases": {"used": len(self.aliases), "limit": self.aliases_limit},
                "mailboxes": {"used": self.mailboxes_used, "limit": self.mailboxes_limit},
            },
        }
