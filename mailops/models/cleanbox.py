"""The Cleanbox API's answers as mailops reads them (docs/cleanbox-api.md;
docs/assumptions.md#cleanbox).

Plain pydantic models, apart from the client (`mailops.cleanbox`) so that the rules and the
store can take them without the HTTP layer. Models ignore fields they do not know and reject
a payload missing one the code needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mailops.counts import Count
from mailops.text import STORABLE, ApiText

ContactState = Literal["unset", "blocked", "whitelisted", "muted"]
MessageStatus = Literal["delivered", "failed", "denied", "quarantined"]
# An id the store keeps in a change's target: a longer one is an unusable item, not a write
# that fails for the whole plan.
Uuid = Annotated[str, StringConstraints(min_length=1, max_length=128), STORABLE]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class UsedLimit(_Model):
    used: Count
    limit: Count


class TeamLimits(_Model):
    aliases: UsedLimit
    mailboxes: UsedLimit


class WeeklyUsage(_Model):
    weekly_used: Count
    weekly_limit: Count

    @property
    def percent(self) -> float:
        """Weekly usage as a percentage of the limit; 0 when the limit is 0."""
        return 0.0 if self.weekly_limit <= 0 else 100.0 * self.weekly_used / self.weekly_limit


class Team(_Model):
    usage: WeeklyUsage
    limits: TeamLimits
    name: ApiText | None = None


class Category(_Model):
    uuid: Uuid
    name: ApiText


class Contact(_Model):
    uuid: Uuid
    email: ApiText
    email_count: Count
    state: ContactState
    category: Category | None
    created_at: datetime
    has_subscriptions: bool


class QuarantinedMessage(_Model):
    uuid: Uuid
    sender: ApiText = Field(alias="from")
    to: ApiText
    subject: ApiText
    received_at: datetime
    spam_score: float | None


class Message(_Model):
    uuid: Uuid
    sender: ApiText = Field(alias="from")
    to: ApiText
    status: MessageStatus
    spam_score: float | None
    received_at: datetime


class CategoryList(_Model):
    """The envelope of `GET /categories`."""

    data: list[Category]


class AcceptResult(_Model):
    """The answer of `POST /quarantine/accept`."""

    accepted: Count
