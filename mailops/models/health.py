"""The daily-health figures: one Cleanbox team's and one EmBoux domain's day, and what could
not be collected.

Plain data that collection (`mailops.health`) makes, the rules (`mailops.rules.daily_health`)
judge, the store keeps and the reports show; it knows no client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mailops.jsonable import FLATTEN
from mailops.models.cleanbox import Team
from mailops.models.emboux import Outbound


@dataclass(frozen=True)
class TopSender:
    """One of a team's busiest senders of the day, as the trend store keeps it."""

    email: str
    count: int
    state: str
    category: str | None


@dataclass(frozen=True)
class TeamHealth:
    """One Cleanbox team's figures for the day."""

    team: str
    weekly_used: int
    weekly_limit: int
    usage_pct: float
    aliases_used: int
    aliases_limit: int
    mailboxes_used: int
    mailboxes_limit: int
    quarantine_backlog: int
    failed_count: int
    denied_count: int
    top_senders: list[TopSender] = field(default_factory=list)

    @classmethod
    def from_api(
        cls, name: str, team: Team, quarantine: int, failed: int, denied: int,
        top: list[TopSender],
    ) -> TeamHealth:
        return cls(
            team=name,
            weekly_used=team.usage.weekly_used,
            weekly_limit=team.usage.weekly_limit,
            usage_pct=round(team.usage.percent, 1),
            aliases_used=team.limits.aliases.used,
            aliases_limit=team.limits.aliases.limit,
            mailboxes_used=team.limits.mailboxes.used,
            mailboxes_limit=team.limits.mailboxes.limit,
            quarantine_backlog=quarantine,
            failed_count=failed,
            denied_count=denied,
            top_senders=top,
        )

    def trend_row(self, day: date, collected_at: datetime) -> dict[str, Any]:
        """The row of `team_daily`."""
        return {
            "day": day,
            "team": self.team,
            "weekly_used": self.weekly_used,
            "weekly_limit": self.weekly_limit,
            "usage_pct": self.usage_pct,
            "aliases_used": self.aliases_used,
            "aliases_limit": self.aliases_limit,
            "mailboxes_used": self.mailboxes_used,
            "mailboxes_limit": self.mailboxes_limit,
            "quarantine_backlog": self.quarantine_backlog,
            "failed_24h": self.failed_count,
            "denied_24h": self.denied_count,
            "collected_at": collected_at,
        }

    def sender_rows(self, day: date) -> list[dict[str, Any]]:
        """The rows of `team_top_senders`, ranked from 1."""
        return [
            {"day": day, "team": self.team, "rank": rank, "email": sender.email,
             "email_count": sender.count, "state": sender.state, "category": sender.category}
            for rank, sender in enumerate(self.top_senders, start=1)
        ]


@dataclass(frozen=True)
class DomainHealth:
    """One EmBoux domain's outbound figures for the day."""

    outbound: Outbound = field(metadata=FLATTEN)  # in JSON its fields beside partner_ref
    partner_ref: str | None

    @property
    def name(self) -> str:
        return self.outbound.name

    def trend_row(self, day: date, collected_at: datetime) -> dict[str, Any]:
        """The row of `domain_daily`."""
        return {
            "day": day,
            "domain": self.name,
            "partner_ref": self.partner_ref,
            **self.outbound.model_dump(exclude={"name"}),
            "collected_at": collected_at,
        }


@dataclass(frozen=True)
class CollectionFailure:
    """A team or domain that could not be collected, and why, in words."""

    api: str
    subject: str
    message: str
