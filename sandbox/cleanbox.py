"""The Cleanbox API of the sandbox, mounted under /cleanbox/v1 (docs/cleanbox-api.md).

Choices where the contract leaves room (each made here, once):
- `per_page` above 100 (or below 1) and `page` below 1 answer 422, never a silent clamp, so a
  client that asks for more than it can get finds out; the default `per_page` is 25.
- `total_pages` is ceil(total / per_page): 0 for an empty listing. A page past the end is empty.
- `"total"` is in list pages only while the world's `cleanbox_total` switch is on.
- Contacts list oldest row first unless `sort=emailCount|createdAt`; `dir=asc|desc` (default
  asc). Messages and quarantine list newest first. `from` matches the bare sender address,
  case-insensitively; `since` is inclusive.
- A released quarantined message becomes `delivered`. Accepting an unknown or already released
  UUID is not an error and is not counted.
Handlers are `async def` on purpose: they all run on the event loop thread, so the state needs
no locks, and they answer plain JSONResponse objects (no response models) to stay fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from sandbox.cleanbox_state import ALL, QUARANTINED, SORTS, STATES, STATUSES, Team
from sandbox.ids import KIND_CONTACT, parse_iso, parse_uuid
from sandbox.world import World

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_ACCEPT = 100


class ApiProblem(Exception):
    """An error answer: status code and JSON body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def invalid(message: str) -> ApiProblem:
    return ApiProblem(422, "invalid_request", message)


def team_of(world: World, request: Request) -> Team:
    """The team whose Bearer key the request carries, or a 401 problem."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    team = world.teams_by_key.get(key.strip()) if scheme.lower() == "bearer" else None
    if team is None:
        raise ApiProblem(401, "unauthorized", "missing or invalid API key")
    return team


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None


def choice(value: str | None, name: str, choices: tuple[str, ...]) -> str | None:
    """`value` (None or empty: None) when it is one of `choices`, else a 422 naming them."""
    if value and value not in choices:
        raise invalid(f"{name} must be one of {', '.join(c for c in choices if c)}")
    return value or None


def filter_index(request: Request, name: str, choices: tuple[str, ...]) -> int:
    """The index in `choices` of the query's filter `name`, ALL when it is absent."""
    value = choice(request.query_params.get(name), name, choices)
    return ALL if value is None else choices.index(value)


def paging(request: Request) -> tuple[int, int]:
    """(page, per_page) from the query, validated."""
    page = int_param(request, "page", 1)
    per_page = int_param(request, "per_page", DEFAULT_PER_PAGE)
    if page < 1:
        raise invalid("page must be >= 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid(f"per_page must be between 1 and {MAX_PER_PAGE}")
    return page, per_page


def page_rows(
    rows: Sequence[int], lo: int, page: int, per_page: int, newest_first: bool
) -> list[int]:
    """The rows of one page of rows[lo:], in ascending order or from the end."""
    if newest_first:
        end = len(rows) - (page - 1) * per_page
        start = max(lo, end - per_page)
        return [rows[i] for i in range(end - 1, start - 1, -1)] if end > lo else []
    start = lo + (page - 1) * per_page
    return list(rows[start:min(len(rows), start + per_page)])


def page_body(world: World, data: list[dict], page: int, per_page: int, total: int) -> dict:
    body: dict = {"data": data, "page": page, "per_page": per_page,
                  "total_pages": -(-total // per_page)}
    if world.cleanbox_total:
        body["total"] = total
    return body


async def json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise invalid("body must be JSON") from None
    if not isinstance(body, dict):
        raise invalid("body must be a JSON object")
    return body


class _ProblemRoute(APIRoute):
    """A route that answers an `ApiProblem` raised by its handler as Cleanbox's JSON error
    (FastAPI's documented way to wrap every handler of a router: a custom APIRoute class)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem.response()

        return answer


def build_router(world: World) -> APIRouter:
    """Every Cleanbox endpoint, paths relative to the /cleanbox/v1 mount."""
    router = APIRouter(route_class=_ProblemRoute)

    @router.get("/team")
    async def get_team(request: Request) -> JSONResponse:
        return JSONResponse(team_of(world, request).team_json())

    @router.get("/categories")
    async def get_categories(request: Request) -> JSONResponse:
        team_of(world, request)
        return JSONResponse({"data": world.categories})

    @router.get("/contacts")
    async def list_contacts(request: Request) -> JSONResponse:
        team = team_of(world, request)
        page, per_page = paging(request)
        q = request.query_params
        sort = choice(q.get("sort"), "sort", SORTS) or ""
        direction = choice(q.get("dir"), "dir", ("asc", "desc")) or "asc"
        rows = team.contacts.order(filter_index(request, "state", STATES), sort)
        chosen = page_rows(rows, 0, page, per_page, direction == "desc")
        data = [team.contacts.to_json(i, team.salt, world.categories) for i in chosen]
        return JSONResponse(page_body(world, data, page, per_page, len(rows)))

    def contact_row(team: Team, uuid: str) -> int:
        idx = parse_uuid(team.salt, KIND_CONTACT, uuid)
        if idx is None or idx >= len(team.contacts):
            raise ApiProblem(404, "not_found", "no such contact")
        return idx

    @router.get("/contacts/{uuid}")
    async def get_contact(uuid: str, request: Request) -> JSONResponse:
        team = team_of(world, request)
        idx = contact_row(team, uuid)
        return JSONResponse(team.contacts.to_json(idx, team.salt, world.categories))

    @router.put("/contacts/{uuid}")
    async def put_contact(uuid: str, request: Request) -> JSONResponse:
        team = team_of(world, request)
        idx = contact_row(team, uuid)
        state = choice((await json_body(request)).get("state"), "state", STATES)
        if state is None:
            raise invalid(f"state must be one of {', '.join(STATES)}")
        before = STATES[team.contacts.states[idx]]
        team.contacts.set_state(idx, STATES.index(state))
        if before != state:
            world.journal.record("Cleanbox", "contact_state", team.name, uuid, before, state,
                                 f"PUT /contacts/{uuid}")
        return JSONResponse(team.contacts.to_json(idx, team.salt, world.categories))

    @router.get("/quarantine")
    async def list_quarantine(request: Request) -> JSONResponse:
        team = team_of(world, request)
        page, per_page = paging(request)
        rows = team.messages.by_status[QUARANTINED]
        chosen = page_rows(rows, 0, page, per_page, newest_first=True)
        data = [team.messages.quarantine_json(i, team.salt) for i in chosen]
        return JSONResponse(page_body(world, data, page, per_page, len(rows)))

    @router.post("/quarantine/accept")
    async def accept_quarantine(request: Request) -> JSONResponse:
        team = team_of(world, request)
        uuids = (await json_body(request)).get("uuids")
        if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
            raise invalid("uuids must be a list of strings")
        if len(uuids) > MAX_ACCEPT:
            raise invalid(f"at most {MAX_ACCEPT} uuids per request")
        released = [u for u in dict.fromkeys(uuids) if team.accept(u)]
        for uuid in released:
            world.journal.record("Cleanbox", "quarantine_release", team.name, uuid,
                                 "quarantined", "released", "POST /quarantine/accept")
        return JSONResponse({"accepted": len(released)})

    @router.get("/messages")
    async def list_messages(request: Request) -> JSONResponse:
        team = team_of(world, request)
        page, per_page = paging(request)
        q = request.query_params
        status = filter_index(request, "status", STATUSES)
        since_text = q.get("since") or None
        since = None if since_text is None else parse_iso(since_text)
        if since_text is not None and since is None:
            raise invalid("since must be an ISO 8601 date or time")
        sender = q.get("from") or None
        if sender is not None and "<" in sender:  # a full header: match its bare address
            sender = sender.rsplit("<", 1)[1].rstrip("> ")
        rows, lo = team.messages.select(status, None if sender is None else sender.lower(), since)
        chosen = page_rows(rows, lo, page, per_page, newest_first=True)
        data = [team.messages.message_json(i, team.salt) for i in chosen]
        return JSONResponse(page_body(world, data, page, per_page, len(rows) - lo))

    return router
