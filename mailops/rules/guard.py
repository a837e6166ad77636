"""The outbound monitor (docs/outbound-guard.md) as pure functions: mailbox windows, tiers,
cooldown, group ratios.

A mailbox (one EmBoux sending domain) keeps a sliding window of sends and bounces and its
lifetime totals. Each poll feeds it the sends and bounces since the last poll; its own
status follows from the window (early warning, percentage and absolute triggers, minimum
volume) and from time (a pause lasts the cooldown, then the mailbox heals on probation).
A group's status follows from the share of its unhealthy members; a paused group pauses
every member that is not healing. No I/O, no clock: `now` is always a parameter.

Decisions where the design is silent (docs/outbound-guard.md#decisions-where-the-design-is-silent;
each lives here, once):
- Window counts are floats: a slide keeps exactly `keep_fraction` of both counts, so the
  rate is preserved (100 and 5 become 50 and 2.5).
- Bounces within one batch are spread evenly over its sends when the batch crosses a slide.
- At the minimum volume the percentage trigger takes over from the early warning: 3
  bounces within 59 sends is a warning, 3 in 60 (5 %) is a pause.
- Unhealthy (for a group's share) = warning, paused or healing, as the design's "3 mailboxes,
  1 unhealthy, 33 %, warning" implies; a member paused only because its group is paused
  counts by its own status, so a group pause does not feed itself.
- Groups smaller than `group_min_mailboxes` are never paused by their ratio (a single
  warning mailbox is not a 100 % catastrophe); they show at most `warning`.
- A healing mailbox is resumed on probation even inside a paused group (it can only prove
  itself by sending); any new pause trigger on its probation stretch pauses it again.
- Healing ends after `healing_clean_sends` sends without a bounce (a batch with a bounce
  starts the count over) and only when the window no longer triggers a pause.
- Grouped by parent domain, a domain's group is its registrable domain by the Public Suffix
  List, which the caller passes in (`group_of`): the list is a lookup, kept out of rules/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from mailops.rules.domains import RegistrableDomain
from mailops.settings import GuardSettings


class Status(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    PAUSED = "paused"
    HEALING = "healing"


UNHEALTHY = frozenset({Status.WARNING, Status.PAUSED, Status.HEALING})
_RANK = {Status.HEALTHY: 0, Status.WARNING: 1, Status.HEALING: 2, Status.PAUSED: 3}


@dataclass(frozen=True)
class Window:
    """Sends and bounces in the sliding window (floats: a slide keeps a fraction)."""

    sends: float = 0.0
    bounces: float = 0.0

    @property
    def rate(self) -> float:
        """Bounce rate in percent (0 with no sends)."""
        return 100.0 * self.bounces / self.sends if self.sends > 0 else 0.0


def slide(window: Window, keep_fraction: float) -> Window:
    """Keep `keep_fraction` of both counts instead of resetting them
    (docs/outbound-guard.md#sliding-window)."""
    return Window(window.sends * keep_fraction, window.bounces * keep_fraction)


def add_to_window(
    window: Window, sends: float, bounces: float, size: int, keep_fraction: float
) -> Window:
    """Add a batch, sliding as often as the batch needs: never `size` sends or more after."""
    return feed_window(window, sends, bounces, size, keep_fraction)[0]


def feed_window(
    window: Window, sends: float, bounces: float, size: int, keep_fraction: float
) -> tuple[Window, list[Window]]:
    """The window after a batch, and the full windows seen just before each slide.

    A batch that crosses the slide point is cut there; its bounces are spread evenly over
    its sends (a poll does not say when within the batch they happened). The full windows
    are where the triggers must look too: 5 bounces in 100 sends pauses even though the
    slide leaves 2.5 in 50.
    """
    if sends < 0 or bounces < 0:
        raise ValueError("a batch cannot have negative sends or bounces")
    current = window
    full: list[Window] = []
    remaining_sends, remaining_bounces = float(sends), float(bounces)
    while current.sends + remaining_sends >= size:
        room = max(size - current.sends, 0.0)
        share = remaining_bounces * room / remaining_sends if remaining_sends else 0.0
        peak = Window(current.sends + room, current.bounces + share)
        full.append(peak)
        current = slide(peak, keep_fraction)
        remaining_sends = max(remaining_sends - room, 0.0)
        remaining_bounces = max(remaining_bounces - share, 0.0)
    return Window(current.sends + remaining_sends, current.bounces + remaining_bounces), full


def window_tier(window: Window, rules: GuardSettings) -> tuple[Status, str]:
    """The status the window alone calls for, and why in words (docs/outbound-guard.md#triggers)."""
    sends, bounces = window.sends, window.bounces
    if bounces >= rules.absolute_bounces:
        return Status.PAUSED, (
            f"{bounces:g} bounces in the window (absolute trigger {rules.absolute_bounces})"
        )
    if sends >= rules.min_volume and window.rate >= rules.bounce_rate_pct:
        return Status.PAUSED, (
            f"bounce rate {window.rate:.2f} % on {sends:g} sends (trigger "
            f"{rules.bounce_rate_pct:g} % from {rules.min_volume} sends)"
        )
    if sends < rules.min_volume and bounces >= rules.warning_bounces:
        return Status.WARNING, (
            f"{bounces:g} bounces within the first {rules.min_volume} sends (early warning)"
        )
    return Status.HEALTHY, "below every trigger"


def risk_score(window: Window, status: Status, rules: GuardSettings) -> int:
    """0 to 100 for the dashboard: how close the window is to a pause, by either trigger.

    The rate's share of its trigger counts by the square of the share of the minimum volume
    seen (a rate on 4 sends says little); a paused mailbox is 100, a healing one at least 50.
    """
    by_count = window.bounces / rules.absolute_bounces
    confidence = min(1.0, window.sends / rules.min_volume) ** 2
    by_rate = window.rate / rules.bounce_rate_pct * confidence
    score = round(100 * min(1.0, max(by_count, by_rate)))
    if status is Status.PAUSED:
        return 100
    if status is Status.HEALING:
        return max(score, 50)
    return score


@dataclass(frozen=True)
class MailboxState:
    """Everything the guard remembers about one mailbox between polls."""

    name: str
    group: str
    status: Status = Status.HEALTHY  # the mailbox's own status, from its own evidence
    reason: str = "no data yet"
    window: Window = Window()
    total_sends: int = 0
    total_bounces: int = 0
    paused_at: datetime | None = None
    cooldown_until: datetime | None = None
    probation: Window = Window()  # sends and bounces since healing began
    clean_sends: float = 0.0  # sends since the last batch with a bounce, while healing
    group_paused: bool = False  # paused because its group is

    @property
    def effective(self) -> Status:
        """What applies: the own status, or paused when the group pauses a non-healing member."""
        if self.group_paused and self.status is not Status.HEALING:
            return Status.PAUSED
        return self.status

    def risk(self, rules: GuardSettings) -> int:
        return risk_score(self.window, self.effective, rules)


def update_mailbox(
    state: MailboxState, sends: int, bounces: int, now: datetime, rules: GuardSettings
) -> MailboxState:
    """Feed one poll's new sends and bounces, then let time move the cooldown on."""
    window, full = feed_window(
        state.window, sends, bounces, rules.window_size, rules.keep_fraction
    )
    tier, why = window_tier(window, rules)
    worst, worst_why = max(
        [window_tier(w, rules) for w in full] + [(tier, why)],
        key=lambda found: severity_rank(found[0]),
    )
    new = replace(
        state, window=window, total_sends=state.total_sends + sends,
        total_bounces=state.total_bounces + bounces,
    )
    cooldown = timedelta(hours=rules.cooldown_hours)
    if new.status is Status.PAUSED:
        if new.cooldown_until is not None and now >= new.cooldown_until:
            return replace(new, status=Status.HEALING, probation=Window(), clean_sends=0.0,
                           reason=f"cooldown ended {new.cooldown_until.isoformat()}; on probation")
        return new
    if new.status is Status.HEALING:
        probation = Window(new.probation.sends + sends, new.probation.bounces + bounces)
        clean = 0.0 if bounces else new.clean_sends + sends
        relapse, relapse_why = window_tier(probation, rules)
        if relapse is Status.PAUSED:
            return _pause(new, now, cooldown, f"while healing: {relapse_why}")
        new = replace(new, probation=probation, clean_sends=clean)
        if clean >= rules.healing_clean_sends and tier is not Status.PAUSED:
            return replace(new, status=tier, reason=f"healed after {clean:g} clean sends; {why}",
                           paused_at=None, cooldown_until=None, probation=Window(),
                           clean_sends=0.0)
        return replace(new, reason=f"healing: {clean:g} of {rules.healing_clean_sends} clean sends")
    if worst is Status.PAUSED:
        return _pause(new, now, cooldown, worst_why)
    return replace(new, status=tier, reason=why)


def _pause(state: MailboxState, now: datetime, cooldown: timedelta, why: str) -> MailboxState:
    return replace(state, status=Status.PAUSED, reason=why, paused_at=now,
                   cooldown_until=now + cooldown, probation=Window(), clean_sends=0.0)


@dataclass(frozen=True)
class GroupHealth:
    """A group's aggregate for the dashboard (docs/outbound-guard.md#dashboard-metrics)."""

    group: str
    mailboxes: int
    unhealthy: int
    unhealthy_pct: float
    status: Status
    avg_risk: float


def group_status(total: int, unhealthy: int, rules: GuardSettings) -> Status:
    """The group ratio rule (docs/outbound-guard.md#group-ratio): 30 % unhealthy warns,
    50 % pauses (groups big enough)."""
    if total <= 0:
        return Status.HEALTHY
    pct = 100.0 * unhealthy / total
    if pct >= rules.group_pause_pct and total >= rules.group_min_mailboxes:
        return Status.PAUSED
    if pct >= rules.group_warning_pct:
        return Status.WARNING
    return Status.HEALTHY


def apply_groups(
    states: Iterable[MailboxState], rules: GuardSettings
) -> tuple[list[MailboxState], list[GroupHealth]]:
    """Every group's health from its members' own statuses, and members' group pause set."""
    members: dict[str, list[MailboxState]] = {}
    for state in states:
        members.setdefault(state.group, []).append(state)
    updated: list[MailboxState] = []
    groups: list[GroupHealth] = []
    for group in sorted(members):
        boxes = members[group]
        unhealthy = sum(box.status in UNHEALTHY for box in boxes)
        status = group_status(len(boxes), unhealthy, rules)
        boxes = [replace(box, group_paused=status is Status.PAUSED) for box in boxes]
        updated.extend(boxes)
        groups.append(GroupHealth(
            group, len(boxes), unhealthy, round(100.0 * unhealthy / len(boxes), 1), status,
            round(sum(box.risk(rules) for box in boxes) / len(boxes), 1),
        ))
    return updated, groups


def counter_delta(
    last_sent: int | None, last_bounces: int | None, sent: int, bounces: int
) -> tuple[int, int, bool]:
    """The sends and bounces since the last poll from EmBoux's period counters.

    The first poll of a domain starts from the period's totals; counters that went down
    mean a new period (reset-monthly ran), which starts from the new totals. Answers
    (sends, bounces, new_period).
    """
    if last_sent is None or last_bounces is None:
        return sent, bounces, False
    if sent < last_sent or bounces < last_bounces:
        return sent, bounces, True
    return sent - last_sent, bounces - last_bounces, False


def group_of(
    name: str, partner_ref: str | None, group_by: str, registrable_domain: RegistrableDomain
) -> str:
    """The group a domain belongs to: its partner, or its registrable domain.

    The registrable domain is the Public Suffix List's (https://publicsuffix.org), looked up
    by `registrable_domain` (`mailops.public_suffix`): `x.acme.com.sg` and `acme.com.sg`
    are one group. A name without one (a public suffix EmBoux should not list) is a group
    of its own rather than a failed poll.
    """
    if group_by == "partner_ref":
        return partner_ref or "(no partner)"
    domain = name.lower().rstrip(".")
    return registrable_domain(domain) or domain


def severity_rank(status: Status) -> int:
    """Healthy < warning < healing < paused: for comparing and sorting."""
    return _RANK[status]


def transitions(
    previous: Mapping[str, str | None], current: Mapping[str, Status]
) -> list[tuple[str, str, Status]]:
    """(name, from, to) where a status differs from the last one notified; unknown = healthy."""
    changed = []
    for name, status in sorted(current.items()):
        before = previous.get(name) or Status.HEALTHY.value
        if before != status.value:
            changed.append((name, before, status))
    return changed


def sort_for_dashboard(states: Sequence[MailboxState], rules: GuardSettings) -> list[MailboxState]:
    """Worst first, then riskiest, then by name."""
    return sorted(states, key=lambda s: (-severity_rank(s.effective), -s.risk(rules), s.name))
