"""quarantine-accept's I/O: count the backlog, plan the accepts, apply them through the gate.

One run covers every selected team and stores one plan: a planned change per message, target
`quarantine:<team>:<uuid>`, field `status`, `quarantined` -> `released`, action `accept`, so
the gate records and audits each uuid. Applying sends the uuids in batches of at most 100
(`POST /quarantine/accept`); a batch that fails (5xx, lost answer) leaves its uuids failed and
the next pass sends them again, which is harmless: a released uuid is not counted again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from mailops import jobs
from mailops.cleanbox import MAX_ACCEPT_BATCH, CleanboxClient
from mailops.errors import ConfigError, MailopsError, ResponseFormatError
from mailops.gate import ApplyMany, ApplyResult, Confirm, TeamTarget, apply_plan
from mailops.jsonable import renamed
from mailops.rules.quarantine import KEEP_REASONS, over_threshold, plan_accepts, whitelist_of
from mailops.store import ChangeStatus, PlannedChange, Store

JOB = jobs.QUARANTINE_ACCEPT
FIELD = "status"
OLD, NEW, ACTION = "quarantined", "released", "accept"
TOP_MESSAGES = 50  # accepted messages kept per team for the report and the artifact


_TARGET = TeamTarget("quarantine")
quarantine_target = _TARGET.of
parse_target = _TARGET.parse


@dataclass(frozen=True)
class HeldMessage:
    """A quarantined message planned for accepting, and why."""

    uuid: str
    sender: str = field(metadata=renamed("from"))
    subject: str = ""
    reason: str = ""


@dataclass
class TeamPlan:
    """One team's backlog and what the rules make of it, as planning builds it."""

    team: str
    backlog: int
    threshold: int
    acted: bool = False  # the backlog exceeded the threshold, so messages were decided
    planned: list[str] = field(default_factory=list)  # uuids to accept
    kept: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in KEEP_REASONS})
    whitelisted: int = 0
    top: list[HeldMessage] = field(default_factory=list)
    changes: list[PlannedChange] = field(default_factory=list)
    skipped_invalid: int = 0  # listed messages or contacts that could not be read
    unusable: list[str] = field(default_factory=list)  # why, one line each
    error: str | None = None  # the team could not be planned at all
    reused_plan: bool = False  # read back from the store (a retried or resumed run)


@dataclass(frozen=True)
class TeamAccepts:
    """One team's part of a quarantine-accept run: its backlog before and after, what was
    planned, accepted and kept (and why), and a few planned senders."""

    team: str
    backlog: int
    threshold: int
    dry_run: bool
    planned: tuple[str, ...]  # uuids
    accepted: int
    kept: Mapping[str, int]
    backlog_after: int
    acted: bool
    whitelisted: int
    top: tuple[HeldMessage, ...]
    run_id: str
    reused_plan: bool
    skipped_invalid: int
    error: str | None

    @classmethod
    def planned_from(cls, plan: TeamPlan, run_id: str, *, dry_run: bool) -> TeamAccepts:
        """The team's part as planning leaves it: nothing accepted, the backlog unchanged."""
        return cls(plan.team, plan.backlog, plan.threshold, dry_run, tuple(plan.planned), 0,
                   dict(plan.kept), plan.backlog, plan.acted, plan.whitelisted,
                   tuple(plan.top), run_id, plan.reused_plan, plan.skipped_invalid, plan.error)


@dataclass(frozen=True)
class FailedAccept:
    """A message that was not accepted: its sender and why."""

    sender: str = field(metadata=renamed("from"))
    error: str = ""


@dataclass(frozen=True)
class QuarantineAcceptResult:
    """What one quarantine-accept run planned and did, per team, with the cap it ran under,
    the gate's refusal and the accepts that failed. The flow returns it; Slack, the
    artifacts and the CLI read it, `--json` is made from it by `to_jsonable`."""

    run_id: str
    dry_run: bool
    as_of: datetime
    cap: int
    teams: tuple[TeamAccepts, ...]
    refused: str | None = None
    failed: tuple[FailedAccept, ...] = ()
    notification: str | None = None

    @property
    def planned(self) -> int:
        return sum(len(team.planned) for team in self.teams)

    @property
    def accepted(self) -> int:
        return sum(team.accepted for team in self.teams)

    def with_accepts(self, accepted: Mapping[str, int], after: Mapping[str, int],
                     failed: Sequence[FailedAccept]) -> QuarantineAcceptResult:
        """The result once applied: accepts per team, each backlog counted again."""
        teams = tuple(replace(team, accepted=accepted.get(team.team, 0),
                              backlog_after=after.get(team.team, team.backlog))
                      for team in self.teams)
        return replace(self, teams=teams, failed=tuple(failed))


async def plan_team(
    client: CleanboxClient,
    team: str,
    threshold: int,
    max_spam_score: float | None,
    *,
    top_limit: int = TOP_MESSAGES,
) -> TeamPlan:
    """Count the backlog exactly; over the threshold, decide every quarantined message
    against every whitelisted contact. A listed message or contact that cannot be read is
    left out and counted (a sender missing from the whitelist keeps its mail held)."""
    backlog = await client.count_quarantine()
    plan = TeamPlan(team, backlog, threshold)
    if not over_threshold(backlog, threshold):
        return plan
    contacts, messages = await asyncio.gather(
        client.contacts(state="whitelisted", sort=None, unusable=plan.unusable),
        client.quarantine(unusable=plan.unusable),
    )
    plan.skipped_invalid = len(plan.unusable)
    decided = plan_accepts(messages, whitelist_of(c.email for c in contacts), max_spam_score)
    plan.acted = True
    plan.whitelisted = len(contacts)
    plan.kept = decided.kept_counts()
    for message in decided.accept:
        reason = decided.reasons[message.uuid]
        plan.planned.append(message.uuid)
        plan.changes.append(PlannedChange(
            quarantine_target(team, message.uuid), message.sender, FIELD, OLD, NEW, ACTION,
            reason,
        ))
        if len(plan.top) < top_limit:
            plan.top.append(HeldMessage(message.uuid, message.sender, message.subject, reason))
    return plan


async def plan_teams(
    clients: dict[str, CleanboxClient], threshold: int, max_spam_score: float | None
) -> list[TeamPlan]:
    """Every team's plan at once; a team whose listing answers something unusable gets its
    error, and the others are planned all the same (an outage or a rejected key still fails
    the task, which is retried or reported as a whole)."""

    async def one(team: str) -> TeamPlan:
        try:
            return await plan_team(clients[team], team, threshold, max_spam_score)
        except ResponseFormatError as exc:
            return TeamPlan(team, 0, threshold, error=str(exc))

    return list(await asyncio.gather(*(one(team) for team in clients)))


def stored_team_plans(
    store: Store, run_id: str, teams: Sequence[str], threshold: int, *,
    top_limit: int = TOP_MESSAGES,
) -> dict[str, TeamPlan]:
    """The per-team plans of a run stored earlier (a resumed run applies what it planned);
    kept counts and backlogs were not stored and read 0 until counted again."""
    plans = {name: TeamPlan(name, 0, threshold, reused_plan=True) for name in teams}
    for stored in store.plans.of_run(run_id):
        team, uuid = parse_target(stored.change.target)
        plan = plans.setdefault(team, TeamPlan(team, 0, threshold, reused_plan=True))
        plan.acted = True
        plan.planned.append(uuid)
        if len(plan.top) < top_limit:
            plan.top.append(HeldMessage(uuid, stored.change.label, "",
                                        stored.change.reason))
    return plans


def applied_per_team(store: Store, run_id: str) -> dict[str, int]:
    """How many of a run's accepts are recorded as made, per team."""
    counts: dict[str, int] = defaultdict(int)
    for stored in store.plans.of_run(run_id, ChangeStatus.APPLIED):
        counts[parse_target(stored.change.target)[0]] += 1
    return dict(counts)


def accept_batch(clients: dict[str, CleanboxClient]) -> ApplyMany:
    """The gate's batch call: accept a batch's uuids, one request per team in it."""

    async def apply_many(changes: Sequence[PlannedChange]) -> list[str | None]:
        by_team: dict[str, list[int]] = defaultdict(list)
        for i, change in enumerate(changes):
            by_team[parse_target(change.target)[0]].append(i)
        errors: list[str | None] = [None] * len(changes)

        async def send(team: str, positions: list[int]) -> None:
            client = clients.get(team)
            try:
                if client is None:
                    raise ConfigError(f"team {team!r} is not configured any more")
                await client.accept_quarantine(
                    [parse_target(changes[i].target)[1] for i in positions])
            except MailopsError as exc:
                for i in positions:
                    errors[i] = str(exc)

        await asyncio.gather(*(send(team, pos) for team, pos in by_team.items()))
        return errors

    return apply_many


def released(clients: dict[str, CleanboxClient]) -> Confirm:
    """The gate's confirmation of a failed accept: the message is no longer quarantined (its
    answer was lost after it was released). Each team's quarantine is read once a pass."""
    held: dict[str, asyncio.Task[set[str]]] = {}

    async def read(team: str) -> set[str]:
        return {m.uuid for m in await clients[team].quarantine()}

    async def holds(change: PlannedChange) -> bool:
        team, uuid = parse_target(change.target)
        if team not in clients:
            return False
        if team not in held:
            held[team] = asyncio.ensure_future(read(team))
        return uuid not in await asyncio.shield(held[team])

    return holds


async def apply_accepts(
    store: Store, run_id: str, clients: dict[str, CleanboxClient], *, passes: int = 2
) -> ApplyResult:
    """Accept every still-planned message of a run in batches of 100, through the gate.

    A failed batch is sent again in the next pass (up to `passes`); what still fails stays
    failed in the plan for a resumed run. The result counts over all passes.
    """
    total: ApplyResult | None = None
    for _ in range(max(1, passes)):
        result = await apply_plan(store, run_id, JOB, apply_many=accept_batch(clients),
                                  batch_size=MAX_ACCEPT_BATCH, confirm=released(clients))
        if total is None:
            total = result
        else:
            total.applied += result.applied
            total.failed = result.failed
        if not result.failed:
            break
    assert total is not None
    return total
