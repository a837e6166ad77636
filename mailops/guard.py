"""outbound-guard's library side: one poll of EmBoux through the engine to a plan.

The rules are docs/outbound-guard.md's; this module is its "Feeding the engine" and "Actions".

`evaluate` turns the domains just read and the remembered records into the new records, the
groups, the dashboard rows and the remote changes to plan: suspend a paused mailbox that is
still active, resume one that healed, but only where the guard's own suspend is in force.
Whatever EmBoux's guillotine or a person suspended is never resumed, and a person who
lifts the guard's suspend during a pause is not overruled until the pause ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from mailops import jobs
from mailops.emboux import EmbouxClient
from mailops.jsonable import AS_TEXT
from mailops.models.emboux import OutboundUpdate
from mailops.models.health import CollectionFailure, DomainHealth
from mailops.public_suffix import registrable_domain
from mailops.rules.guard import (
    GroupHealth,
    MailboxState,
    Status,
    apply_groups,
    counter_delta,
    group_of,
    sort_for_dashboard,
    transitions,
    update_mailbox,
)
from mailops.rules.shard import Shard
from mailops.settings import GuardSettings
from mailops.store import GuardRecord, PlannedChange

JOB = jobs.OUTBOUND_GUARD
FIELD = "outbound_status"


@dataclass(frozen=True)
class GuardMailbox:
    """One dashboard row: the mailbox metrics of docs/outbound-guard.md#dashboard-metrics."""

    name: str
    group: str
    status: Status
    window_sends: float
    window_bounces: float
    total_sends: int
    total_bounces: int
    cooldown_until: datetime | None
    risk: float

    @classmethod
    def of(cls, state: MailboxState, rules: GuardSettings) -> GuardMailbox:
        return cls(state.name, state.group, state.effective, round(state.window.sends, 2),
                   round(state.window.bounces, 2), state.total_sends, state.total_bounces,
                   state.cooldown_until, state.risk(rules))


@dataclass(frozen=True)
class GuardAction:
    """One planned or applied suspend or resume, as the result and Slack show it."""

    domain: str
    action: str
    reason: str

    @classmethod
    def of(cls, change: PlannedChange) -> GuardAction:
        return cls(change.label, change.action, change.reason)


@dataclass
class GuardRun:
    """What one poll found and decided."""

    records: list[GuardRecord]
    groups: list[GroupHealth]
    actions: list[PlannedChange]
    rules: GuardSettings
    new_periods: list[str] = field(default_factory=list)

    def mailboxes(self) -> list[GuardMailbox]:
        """Every mailbox's dashboard row, worst first."""
        states = sort_for_dashboard([r.state for r in self.records], self.rules)
        return [GuardMailbox.of(state, self.rules) for state in states]

    def mailbox_transitions(self) -> list[tuple[str, str, Status]]:
        """Mailboxes whose status differs from the one last posted to Slack."""
        previous = {r.state.name: r.notified_status for r in self.records}
        return transitions(previous, {r.state.name: r.state.effective for r in self.records})

    def group_transitions(
        self, notified: Mapping[str, tuple[str, str | None]]
    ) -> list[tuple[str, str, Status]]:
        previous = {name: seen[1] for name, seen in notified.items()}
        return transitions(previous, {g.group: g.status for g in self.groups})


@dataclass(frozen=True)
class OutboundGuardResult:
    """What one outbound-guard run did: the poll's instant, run and shard, whether it was a
    dry run, every mailbox's and group's health, the planned changes, the domains that could
    not be read, how many changes were applied (None: none attempted) and where the status
    changes were posted (None: not posted). The flow returns it; the CLI's summary reads it,
    `--json` is `to_jsonable` of it."""

    as_of: datetime
    run_id: str
    shard: Shard = field(metadata=AS_TEXT)
    dry_run: bool
    mailboxes: list[GuardMailbox]
    groups: list[GroupHealth]
    actions: list[GuardAction]
    errors: list[CollectionFailure]
    applied: int | None = None
    notification: str | None = None


def evaluate(
    records: Mapping[str, GuardRecord],
    domains: Sequence[DomainHealth],
    failed: Sequence[str],
    now: datetime,
    rules: GuardSettings,
) -> GuardRun:
    """Feed every domain's change since the last poll to the engine and plan the changes.

    `failed` names domains that could not be read this time: they keep their state (and
    their place in their group) and get no action.
    """
    fed: dict[str, GuardRecord] = {}
    remote: dict[str, str] = {}
    new_periods: list[str] = []
    for domain in domains:
        outbound = domain.outbound
        group = group_of(domain.name, domain.partner_ref, rules.group_by, registrable_domain)
        record = records.get(domain.name) or GuardRecord(MailboxState(domain.name, group))
        sends, bounces, new_period = counter_delta(
            record.last_sent_month, record.last_bounce_count,
            outbound.outbound_sent_month, outbound.bounce_count,
        )
        if new_period:
            new_periods.append(domain.name)
        state = update_mailbox(replace(record.state, group=group), sends, bounces, now, rules)
        fed[domain.name] = replace(
            record, state=state, last_sent_month=outbound.outbound_sent_month,
            last_bounce_count=outbound.bounce_count,
        )
        remote[domain.name] = outbound.outbound_status
    for name in failed:
        if name in records and name not in fed:
            fed[name] = records[name]
    states, groups = apply_groups([r.state for r in fed.values()], rules)
    updated: list[GuardRecord] = []
    actions: list[PlannedChange] = []
    for state in states:
        record = fed[state.name].with_state(state)
        record, change = _decide(record, remote.get(state.name))
        updated.append(record)
        if change is not None:
            actions.append(change)
    actions.sort(key=lambda c: (c.action != "suspend", c.label))
    return GuardRun(updated, groups, actions, rules, new_periods)


def _decide(record: GuardRecord, status: str | None) -> tuple[GuardRecord, PlannedChange | None]:
    """The remote change one mailbox needs, with the bookkeeping of who suspended it."""
    state = record.state
    paused = state.effective is Status.PAUSED
    if status is None:  # not read this time: no decision on a guess
        return record, None
    if record.suspended_by_guard and status == "active":
        # a person lifted the guard's suspend: respected until this pause is over
        record = replace(record, suspended_by_guard=False, hands_off=paused)
    if not paused and record.hands_off:
        record = replace(record, hands_off=False)
    target = f"domain:{state.name}"
    if paused and status == "active" and not record.hands_off:
        why = "its group is paused" if state.status is not Status.PAUSED else state.reason
        return record, PlannedChange(target, state.name, FIELD, "active", "suspended",
                                     "suspend", f"paused by the guard: {why}")
    if not paused and record.suspended_by_guard and status == "suspended":
        return record, PlannedChange(target, state.name, FIELD, "suspended", "active", "resume",
                                     f"{state.effective.value}: {state.reason}")
    if not paused and record.suspended_by_guard and status == "active":
        record = replace(record, suspended_by_guard=False)
    return record, None


async def apply_change(client: EmbouxClient, change: PlannedChange) -> None:
    """Make one planned suspend or resume (idempotent: setting a status)."""
    if change.field != FIELD or change.new_value not in ("active", "suspended"):
        raise ValueError(f"outbound-guard cannot apply {change.field}={change.new_value!r}")
    await client.update_outbound(
        change.label, OutboundUpdate(outbound_status=change.new_value)  # type: ignore[arg-type]
    )
