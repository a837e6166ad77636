"""Daily health: what is collected per Cleanbox team and per EmBoux domain, and how.

Collection is concurrent (every team and every domain at once, bounded by the HTTP layer's
per-API limits) and isolated: one team whose key is rejected, or one domain that keeps
failing, becomes a `CollectionFailure` while the others are collected. The figures' types
are `mailops.models.health`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from mailops.cleanbox import CleanboxClient
from mailops.emboux import EmbouxClient
from mailops.errors import MailopsError
from mailops.jsonable import AS_TEXT, FLATTEN, renamed
from mailops.models.emboux import DomainSummary
from mailops.models.health import CollectionFailure, DomainHealth, TeamHealth, TopSender
from mailops.rules.alerts import Alert
from mailops.rules.shard import Shard
from mailops.settings import TeamCredential
from mailops.spool_import import SpoolImport

FAILURE_WINDOW = timedelta(hours=24)


@dataclass
class Collected:
    """What one collection found: the teams or domains read, and those that failed."""

    teams: list[TeamHealth] = field(default_factory=list)
    domains: list[DomainHealth] = field(default_factory=list)
    failures: list[CollectionFailure] = field(default_factory=list)


@dataclass(frozen=True)
class CollectedDay:
    """One run's collected day, as daily-health stores it (or spools it when the store
    cannot take it): the day it is stored under, the collection instant, the teams and
    domains read, those that failed, and the shard they belong to."""

    day: date
    as_of: datetime
    teams: list[TeamHealth]
    domains: list[DomainHealth]
    failures: list[CollectionFailure]
    shard: Shard = field(default=Shard(1, 1), metadata=AS_TEXT)


async def collect_team(
    client: CleanboxClient, name: str, as_of: datetime, top_senders: int
) -> TeamHealth:
    """One team's usage, exact backlog, 24-hour failed and denied counts, and top senders."""
    since = as_of - FAILURE_WINDOW
    team, quarantine, failed, denied, top = await asyncio.gather(
        client.team(),
        client.count_quarantine(),
        client.count_messages(status="failed", since=since),
        client.count_messages(status="denied", since=since),
        client.top_contacts(top_senders),
    )
    senders = [
        TopSender(c.email, c.email_count, c.state, c.category.name if c.category else None)
        for c in top
    ]
    return TeamHealth.from_api(name, team, quarantine, failed, denied, senders)


async def collect_teams(
    client: CleanboxClient, teams: list[TeamCredential], as_of: datetime, top_senders: int
) -> Collected:
    """Every team at once through one client's pool and bounds; failures kept per team."""

    async def one(team: TeamCredential) -> TeamHealth | CollectionFailure:
        try:
            scoped = client.for_team(team.name, team.api_key)
            return await collect_team(scoped, team.name, as_of, top_senders)
        except MailopsError as exc:
            return CollectionFailure("Cleanbox", team.name, str(exc))

    collected = Collected()
    for outcome in await asyncio.gather(*(one(team) for team in teams)):
        if isinstance(outcome, CollectionFailure):
            collected.failures.append(outcome)
        else:
            collected.teams.append(outcome)
    return collected


async def collect_domains(
    client: EmbouxClient, keep: Callable[[DomainSummary], bool] | None = None
) -> Collected:
    """Every domain the token sees (those `keep` accepts: a shard's), with every outbound
    field; failures kept per domain (and per unreadable entry of the domain list, or name
    that is not a domain)."""
    collected = Collected()
    unusable: list[str] = []
    try:
        summaries = await client.domains(unusable=unusable)
    except MailopsError as exc:
        collected.failures.append(CollectionFailure("EmBoux", "domains", str(exc)))
        return collected
    collected.failures += [CollectionFailure("EmBoux", "domains", line) for line in unusable]
    if keep is not None:
        summaries = [summary for summary in summaries if keep(summary)]

    async def one(summary: DomainSummary) -> DomainHealth | CollectionFailure:
        try:
            return DomainHealth(await client.outbound(summary.name), summary.partner_ref)
        except MailopsError as exc:
            return CollectionFailure("EmBoux", summary.name, str(exc))

    for outcome in await asyncio.gather(*(one(summary) for summary in summaries)):
        if isinstance(outcome, CollectionFailure):
            collected.failures.append(outcome)
        else:
            collected.domains.append(outcome)
    return collected


@dataclass(frozen=True)
class HealthReport:
    """Everything one daily-health run found: what `--json`, Slack and artifacts show."""

    day: date
    as_of: datetime
    teams: list[TeamHealth]
    domains: list[DomainHealth]
    alerts: list[Alert]
    failures: list[CollectionFailure] = field(metadata=renamed("errors"))


@dataclass(frozen=True)
class DailyHealthResult:
    """What one daily-health run did: the day's report, the days spooled by earlier runs it
    imported first, the spool file its own day went to when the store failed, where the
    Slack report went (None: not sent), and its shard. The flow returns it; the CLI's
    summary reads it, `--json` is `to_jsonable` of it (the report's keys at the top)."""

    report: HealthReport = field(metadata=FLATTEN)
    shard: Shard = field(metadata=AS_TEXT)
    spooled_before: SpoolImport = field(default_factory=SpoolImport, metadata=renamed("spool"))
    spool_file: str | None = None
    notification: str | None = None


@dataclass(frozen=True)
class ShardOutcome:
    """How one shard's run of daily-health-fanout ended: its Prefect state's type
    (COMPLETED, FAILED, ..., UNKNOWN) and message."""

    shard: Shard = field(metadata=AS_TEXT)
    flow_run_id: str
    state: str
    message: str

    @property
    def completed(self) -> bool:
        return self.state == "COMPLETED"


@dataclass(frozen=True)
class FanoutResult:
    """What daily-health-fanout did: the report merged from what its shards stored, how each
    shard ended, and where the Slack report went (None: not sent)."""

    report: HealthReport = field(metadata=FLATTEN)
    shards: list[ShardOutcome]
    notification: str | None = None
