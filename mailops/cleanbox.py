"""Typed async client for the Cleanbox API (docs/cleanbox-api.md; docs/assumptions.md#cleanbox).

The answers' models are `mailops.models.cleanbox`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from mailops.http import ApiClient
from mailops.models.cleanbox import (
    AcceptResult,
    Category,
    CategoryList,
    Contact,
    ContactState,
    Message,
    MessageStatus,
    QuarantinedMessage,
    Team,
)
from mailops.settings import Settings, TeamCredential

API_NAME = "Cleanbox"
MAX_ACCEPT_BATCH = 100

SortDirection = Literal["asc", "desc"]


class CleanboxClient:
    """One Cleanbox team's view of the API."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        team: TeamCredential | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> CleanboxClient:
        """A client on the configured URL, bounds and retry policy, for `team` (or no key)."""
        api = ApiClient(
            API_NAME,
            settings.cleanbox_base_url,
            api_key=team.api_key if team else None,
            subject=f"team {team.name!r}" if team else None,
            http=settings.http,
            limits=settings.cleanbox_limits,
            transport=transport,
        )
        return cls(api)

    def for_team(self, name: str, api_key: SecretStr) -> CleanboxClient:
        """The same connection pool and bounds, acting for another team."""
        return CleanboxClient(self.api.with_credential(api_key, f"team {name!r}"))

    async def aclose(self) -> None:
        await self.api.aclose()

    async def __aenter__(self) -> CleanboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def team(self) -> Team:
        """Usage and limits of the team (`GET /team`)."""
        body = await self.api.get("/team")
        return self.api.parse(Team, body, "GET", "/team")

    async def categories(self) -> list[Category]:
        """The sender categories (`GET /categories`)."""
        body = await self.api.get("/categories")
        return self.api.parse(CategoryList, body, "GET", "/categories").data

    async def contacts(
        self,
        *,
        state: ContactState | None = None,
        sort: str | None = "emailCount",
        direction: SortDirection = "desc",
        unusable: list[str] | None = None,
    ) -> list[Contact]:
        """Every contact, optionally of one state, by email count (`GET /contacts`); with
        `unusable`, a contact that cannot be read is left out and said why there."""
        items = await self.api.get_all("/contacts", _contact_query(state, sort, direction))
        return self.api.parse_items(Contact, items, "GET", "/contacts", unusable)

    async def top_contacts(
        self, limit: int = 5, *, state: ContactState | None = None
    ) -> list[Contact]:
        """The `limit` contacts with the most emails (one page; `limit` at most 100)."""
        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        page = await self.api.get_page(
            "/contacts", _contact_query(state, "emailCount", "desc"), per_page=limit
        )
        return self.api.parse(list[Contact], page.items[:limit], "GET", "/contacts")

    async def contact(self, uuid: str) -> Contact:
        """One contact as it is now (`GET /contacts/{uuid}`)."""
        path = f"/contacts/{quote(uuid, safe='')}"
        return self.api.parse(Contact, await self.api.get(path), "GET", path)

    async def set_contact_state(self, uuid: str, state: ContactState) -> None:
        """Set one contact's state (`PUT /contacts/{uuid}`); repeating it changes nothing."""
        await self.api.put(f"/contacts/{quote(uuid, safe='')}", {"state": state})

    async def quarantine(self, *, unusable: list[str] | None = None) -> list[QuarantinedMessage]:
        """Every quarantined message (`GET /quarantine`); with `unusable`, a message that
        cannot be read is left out and said why there."""
        items = await self.api.get_all("/quarantine")
        return self.api.parse_items(QuarantinedMessage, items, "GET", "/quarantine", unusable)

    async def count_quarantine(self) -> int:
        """The exact quarantine backlog."""
        return await self.api.count("/quarantine")

    async def accept_quarantine(self, uuids: list[str]) -> int:
        """Release up to 100 quarantined messages; answers how many the server released."""
        if not uuids:
            return 0
        if len(uuids) > MAX_ACCEPT_BATCH:
            raise ValueError(f"at most {MAX_ACCEPT_BATCH} messages can be accepted at once")
        body = await self.api.post("/quarantine/accept", {"uuids": list(uuids)})
        return self.api.parse(AcceptResult, body, "POST", "/quarantine/accept").accepted

    async def messages(
        self,
        *,
        status: MessageStatus | None = None,
        sender: str | None = None,
        since: datetime | None = None,
    ) -> list[Message]:
        """Every message matching the filters (`GET /messages`)."""
        items = await self.api.get_all("/messages", _message_query(status, sender, since))
        return self.api.parse(list[Message], items, "GET", "/messages")

    async def count_messages(
        self,
        *,
        status: MessageStatus | None = None,
        sender: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """The exact number of messages matching the filters."""
        return await self.api.count("/messages", _message_query(status, sender, since))


def _contact_query(
    state: ContactState | None, sort: str | None, direction: SortDirection | None
) -> dict[str, str | None]:
    return {"state": state, "sort": sort, "dir": direction if sort else None}


def _message_query(
    status: MessageStatus | None, sender: str | None, since: datetime | None
) -> dict[str, str | None]:
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be time-zone aware")
    return {"status": status, "from": sender, "since": since.isoformat() if since else None}
