"""contact-cleanup's I/O: stream unset contacts into a stored plan, apply it, undo it.

Every unset contact of every team is read (page 1, then the others with bounded look-ahead)
and classified before anything changes, so pages that shift when states change cannot hide
a contact. Decisions stream page by page into the plan table (`store.plans.save` consumes an
iterable in batches): memory holds a few pages and the uuids seen, not the whole listing.

A plan row's target is `contact:<team>:<uuid>`, its label the email: one run covers every
team, and apply and undo find each contact's team again from the target.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mailops import jobs
from mailops.cleanbox import CleanboxClient
from mailops.errors import ConfigError, NotFoundError, ResponseFormatError
from mailops.gate import ApplyResult, TeamTarget, apply_plan, undo_plan
from mailops.jsonable import AS_TEXT
from mailops.models.cleanbox import Contact
from mailops.rules.contacts import (
    Action,
    Decision,
    classify,
    normalised_tlds,
    wants_spam_check,
)
from mailops.rules.shard import Shard
from mailops.settings import ContactRules, TeamCredential
from mailops.store import ChangeStatus, PlannedChange, Store

JOB = jobs.CONTACT_CLEANUP
UNDO_JOB = jobs.CONTACT_UNDO
FIELD = "state"
TOP_ACTIONS = 50  # plan rows kept in memory for the report, the artifact and --json
CHANGE_ACTIONS = (Action.BLOCK.value, Action.WHITELIST.value, Action.MUTE.value)
ACTIONS = (*CHANGE_ACTIONS, Action.KEEP.value)  # as the reports count them
_CONTACT = TypeAdapter(Contact)


_TARGET = TeamTarget("contact")
contact_target = _TARGET.of
parse_target = _TARGET.parse


@dataclass(frozen=True)
class ContactChange:
    """One change of the plan (block, whitelist or mute a contact) and the rule's reason."""

    uuid: str
    email: str
    action: str
    reason: str
    team: str


@dataclass(frozen=True)
class FailedContact:
    """A change that was not made: the contact's address and why."""

    email: str
    error: str


@dataclass
class PlanSummary:
    """What planning found, counted while the plan streams: counts per action and per rule,
    and the top of the plan."""

    run_id: str
    teams: list[str] = field(default_factory=list)
    fetched: int = 0
    duplicates: int = 0
    skipped_invalid: int = 0
    planned: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    top: list[ContactChange] = field(default_factory=list)
    reused: bool = False
    unreadable: dict[str, str] = field(default_factory=dict)  # team: why its listing failed

    @property
    def changes(self) -> int:
        return sum(self.planned[action] for action in CHANGE_ACTIONS)

    def count(self, team: str, contact_uuid: str, email: str, decision: Decision,
              top_limit: int) -> None:
        self.planned[decision.action.value] += 1
        self.by_rule[decision.rule.value] += 1
        if decision.changes and len(self.top) < top_limit:
            self.top.append(ContactChange(contact_uuid, email, decision.action.value,
                                          decision.reason, team))


def per_action(counts: Mapping[str, int], actions: Sequence[str] = CHANGE_ACTIONS
               ) -> dict[str, int]:
    """`counts` with every action present, in the reports' order."""
    return {action: counts.get(action, 0) for action in actions}


@dataclass(frozen=True)
class ContactCleanupResult:
    """What one contact-cleanup run planned and did: counts per action (planned, applied)
    and rule, the top of the plan, the gate's refusal, the changes that failed and the teams
    that could not be read whole. The flow returns it; Slack, the artifacts and the CLI read
    it, `--json` is `to_jsonable` of it."""

    run_id: str
    dry_run: bool
    planned: Mapping[str, int]
    applied: Mapping[str, int]
    skipped_invalid: int
    refused: str | None
    actions: tuple[ContactChange, ...]
    actions_total: int
    teams: tuple[str, ...]
    by_rule: Mapping[str, int]
    fetched: int
    duplicates: int
    reused_plan: bool
    failed: tuple[FailedContact, ...]
    unreadable: Mapping[str, str]
    shard: Shard = field(metadata=AS_TEXT)
    notification: str | None = None

    @classmethod
    def planned_from(cls, summary: PlanSummary, shard: Shard, *, dry_run: bool
                     ) -> ContactCleanupResult:
        """The result as planning leaves it: nothing applied, refused or failed yet."""
        return cls(
            summary.run_id, dry_run, per_action(summary.planned, ACTIONS), per_action({}),
            summary.skipped_invalid, None, tuple(summary.top), summary.changes,
            tuple(summary.teams), dict(summary.by_rule), summary.fetched, summary.duplicates,
            summary.reused, (), dict(summary.unreadable), shard,
        )


def parse_contact(item: Any) -> Contact | None:
    """A listed contact, or None when the item cannot be classified (no usable fields)."""
    try:
        return _CONTACT.validate_python(item)
    except ValidationError:
        return None


async def classified_pages(
    client: CleanboxClient,
    team: str,
    rules: ContactRules,
    now: datetime,
    summary: PlanSummary,
    *,
    per_page: int = 100,
    seen: set[str] | None = None,
    top_limit: int = TOP_ACTIONS,
) -> AsyncIterator[list[tuple[Contact, Decision]]]:
    """One team's unset contacts, page by page, each with its decision; counted in `summary`.

    Contacts seen twice (by uuid) are counted once; an item that is not a contact, or whose
    address is not an address, is counted in `skipped_invalid` and left out.
    """
    seen = set() if seen is None else seen
    junk = normalised_tlds(rules.junk_tlds)
    query = {"state": "unset", "sort": "emailCount", "dir": "desc"}
    async for page in client.api.iter_pages("/contacts", query, per_page=per_page):
        decided: list[tuple[Contact, Decision]] = []
        for item in page.items:
            summary.fetched += 1
            contact = parse_contact(item)
            if contact is None:
                summary.skipped_invalid += 1
                summary.by_rule["invalid-address"] += 1
                continue
            if contact.uuid in seen:
                summary.duplicates += 1
                continue
            seen.add(contact.uuid)
            decided.append((contact, classify(contact, rules, now, junk_tlds=junk)))
        if rules.spam_score_check:
            decided = await _spam_checked(client, decided, rules, now, junk)
        for contact, decision in decided:
            if decision.action is Action.INVALID:
                summary.skipped_invalid += 1
                summary.by_rule[decision.rule.value] += 1
            else:
                summary.count(team, contact.uuid, contact.email, decision, top_limit)
        yield decided


async def _spam_checked(
    client: CleanboxClient,
    decided: list[tuple[Contact, Decision]],
    rules: ContactRules,
    now: datetime,
    junk: frozenset[str],
) -> list[tuple[Contact, Decision]]:
    """Decide again, with their recent spam scores, the contacts a volume rule would block."""
    since = now - timedelta(days=rules.spam_score_days)
    wanted = [i for i, (c, _) in enumerate(decided) if wants_spam_check(c, rules, now)]
    found = await asyncio.gather(
        *(client.messages(sender=decided[i][0].email, since=since) for i in wanted)
    )
    result = list(decided)
    for i, messages in zip(wanted, found, strict=True):
        scores = [m.spam_score for m in messages if m.spam_score is not None]
        contact = decided[i][0]
        result[i] = (contact, classify(contact, rules, now, scores, junk_tlds=junk))
    return result


async def plan_batches(
    client: CleanboxClient,
    teams: Sequence[TeamCredential],
    rules: ContactRules,
    now: datetime,
    summary: PlanSummary,
    *,
    per_page: int = 100,
    top_limit: int = TOP_ACTIONS,
) -> AsyncGenerator[list[PlannedChange], None]:
    """The plan's real changes (block, whitelist, mute), a page at a time, team after team.

    A team whose listing answers something unusable (a page that does not match its
    envelope) is named in `summary.unreadable` and the other teams are planned all the same;
    what it had listed before is planned (each decision stands on the contact it read).
    """
    for team in teams:
        summary.teams.append(team.name)
        team_client = client.for_team(team.name, team.api_key)
        seen: set[str] = set()
        pages = classified_pages(team_client, team.name, rules, now, summary,
                                 per_page=per_page, seen=seen, top_limit=top_limit)
        try:
            async for decided in pages:
                yield [
                    PlannedChange(contact_target(team.name, contact.uuid), contact.email,
                                  FIELD, contact.state, decision.new_state,
                                  decision.action.value, decision.reason)
                    for contact, decision in decided
                    if decision.changes
                ]
        except ResponseFormatError as exc:
            summary.unreadable[team.name] = str(exc)


async def save_streamed_plan(
    store: Store, run_id: str, job: str, batches: AsyncGenerator[list[PlannedChange], None]
) -> int:
    """Store a plan as it streams in: `store.plans.save` runs in a worker thread and pulls
    each batch from this event loop, so neither side holds the whole plan."""
    loop = asyncio.get_running_loop()

    def pull() -> Iterator[PlannedChange]:
        while True:
            future = asyncio.run_coroutine_threadsafe(anext(batches), loop)
            try:
                batch = future.result()
            except StopAsyncIteration:
                return
            yield from batch

    try:
        return await asyncio.to_thread(store.plans.save, run_id, job, pull())
    finally:
        await batches.aclose()


def counts_of_run(store: Store, run_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """(planned, applied) counts per action of a stored plan."""
    planned: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    for (action, status), n in store.plans.counts(run_id).items():
        planned[action] += n
        if status == ChangeStatus.APPLIED.value:
            applied[action] += n
    return dict(planned), dict(applied)


def team_clients(
    client: CleanboxClient, teams: Sequence[TeamCredential]
) -> dict[str, CleanboxClient]:
    return {team.name: client.for_team(team.name, team.api_key) for team in teams}


def _client_for(clients: dict[str, CleanboxClient], target: str) -> tuple[CleanboxClient, str]:
    team, uuid = parse_target(target)
    found = clients.get(team)
    if found is None:
        raise ConfigError(f"team {team!r} of {target} is not configured any more")
    return found, uuid


async def apply_contact_plan(
    store: Store, run_id: str, job: str, clients: dict[str, CleanboxClient]
) -> ApplyResult:
    """Set every still-planned contact state of a run through the gate (resumable, audited);
    a failed call is confirmed from the contact's state (its answer may have been lost)."""

    async def apply_one(change: PlannedChange) -> None:
        client, uuid = _client_for(clients, change.target)
        await client.set_contact_state(uuid, change.new_value)  # type: ignore[arg-type]

    async def holds(change: PlannedChange) -> bool:
        client, uuid = _client_for(clients, change.target)
        return (await client.contact(uuid)).state == change.new_value

    return await apply_plan(store, run_id, job, apply_one, confirm=holds)


@dataclass(frozen=True)
class OverriddenContact:
    """A contact an undo leaves alone: its state changed since the run set `run_set`."""

    uuid: str
    email: str
    state: str
    run_set: str


@dataclass(frozen=True)
class MissingContact:
    """A contact the run changed that no longer exists."""

    uuid: str
    email: str


@dataclass
class UndoCheck:
    """Which reverts of a run still apply, and which a later decision overrides."""

    reverts: list[PlannedChange] = field(default_factory=list)
    overridden: list[OverriddenContact] = field(default_factory=list)
    missing: list[MissingContact] = field(default_factory=list)
    already: int = 0  # back at the old state already (an earlier undo, or a person)


@dataclass(frozen=True)
class ContactUndoResult:
    """What one contact-undo run did to the changes of cleanup run `undone_run_id`: how
    many it reverted, the contacts a later decision kept and those gone, how many were back
    already, and the reverts that failed (a re-run of the undo finishes them)."""

    run_id: str
    undone_run_id: str
    reverted: int
    left_alone: tuple[OverriddenContact, ...]
    already_reverted: int
    missing: tuple[MissingContact, ...]
    failed: tuple[FailedContact, ...]


async def check_undo(
    store: Store, run_id: str, clients: dict[str, CleanboxClient]
) -> UndoCheck:
    """The reverts of a run's applied changes whose contact still has the state the run set.

    A contact whose state changed since (a person's later decision) is left alone and
    listed; one that no longer exists is listed as missing.
    """
    check = UndoCheck()
    reverts = undo_plan(store, run_id)
    semaphore = asyncio.Semaphore(100)

    async def current(change: PlannedChange) -> str | None:
        client, uuid = _client_for(clients, change.target)
        async with semaphore:
            try:
                return (await client.contact(uuid)).state
            except NotFoundError:
                return None

    states = await asyncio.gather(*(current(r) for r in reverts))
    for revert, state in zip(reverts, states, strict=True):
        _, uuid = parse_target(revert.target)
        if state is None:
            check.missing.append(MissingContact(uuid, revert.label))
        elif state == revert.old_value:
            check.reverts.append(revert)
        elif state == revert.new_value:
            check.already += 1
        else:
            check.overridden.append(OverriddenContact(uuid, revert.label, state,
                                                      revert.old_value or ""))
    return check


@dataclass(frozen=True)
class ContactAudit:
    """One audited contact change with the contact's email (from its plan row's label)."""

    run_id: str
    team: str
    uuid: str
    email: str
    old_state: str | None
    new_state: str | None
    reason: str
    changed_at: datetime


def contact_audit(store: Store, run_id: str) -> list[ContactAudit]:
    """Every contact change a run (cleanup or undo) made, in order, with each email.

    The gate's audit row holds run, target (team and uuid), old and new state, reason and
    time; the email is the label of the run's plan row for the same target.
    """
    emails = {s.change.target: s.change.label for s in store.plans.of_run(run_id)}
    found = []
    for record in store.audit.of_run(run_id):
        team, uuid = parse_target(record.change.target)
        found.append(ContactAudit(
            record.run_id, team, uuid, emails.get(record.change.target, ""),
            record.change.old_value, record.change.new_value, record.change.reason,
            record.changed_at,
        ))
    return found
