"""The daily-health figures: one Cleanbox team's and one EmBoux domain's day, and what could
not be collected.

Plain data that collection (`mailops.health`) makes, the rules (`mailops.rules.daily_health`)
judge, the store keeps and the reports show; it knows no client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mailops.models.cleanbox import Team
from mailops.models.emboux import Outbound


@dataclass(frozen=True)
class TopSender:
    """One of a team's busiest senders of the day, as the trend store keeps it."""

    email: str
    count: int
    state: str
    category: str | None

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "count": self.count, "state": self.state,
                "category": self.category}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopSender:
        return cls(str(data["email"]), int(data["count"]), str(data["state"]),
                   None if data["category"] is None else str(data["category"]))


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
    quarantine_pending: int
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
            quarantine_pending=quarantine,
            failed_count=failed,
            denied_count=denied,
            top_senders=top,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "weekly_used": self.weekly_used,
            "weekly_limit": self.weekly_limit,
            "usage_pct": self.usage_pct,
            "aliases_used": self.aliases_used,
            "aliases_limit": self.aliases_limit,
            "mailboxes_used": self.mailboxes_used,
            "mailboxes_limit": self.mailboxes_limit,
            "quarantine_pending": self.quarantine_pending,
            "failed_count": self.failed_count,
            "denied_count": self.denied_count,
            "top_senders": [sender.as_json() for sender in self.top_senders],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TeamHealth:
        """The team back from `as_json` (a spooled day); KeyError, TypeError or ValueError
        when the data is not one."""
        numbers = {name: int(data[name]) for name in (
            "weekly_used", "weekly_limit", "aliases_used", "aliases_limit", "mailboxes_used",
            "mailboxes_limit", "quarantine_pending", "failed_count", "denied_count")}
        return cls(team=str(data["team"]), usage_pct=float(data["usage_pct"]), **numbers,
                   top_senders=[TopSender.from_json(s) for s in data["top_senders"]])

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
            "quarantine_backlog": self.quarantine_pending,
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

    outbound: Outbound
    partner_ref: str | None

    @property
    def name(self) -> str:
        return self.outbound.name

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "partner_ref": self.partner_ref,
                **self.outbound.model_dump(exclude={"name"})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DomainHealth:
        """The domain back from `as_json` (a spooled day); pydantic's ValidationError (a
        ValueError) when the data is not one."""
        fields = {k: v for k, v in data.items() if k != "partner_ref"}
        partner = data.get("partner_ref")
        return cls(Outbound.model_validate(fields), None if partner is None else str(partner))

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

    def as_json(self) -> dict[str, str]:
        return {"api": self.api, "subject": self.subject, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionFailure:
        return cls(str(data["api"]), str(data["subject"]), str(data["message"]))
