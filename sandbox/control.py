"""The sandbox's control API under /_sandbox: clock, traffic, truth, faults, Slack, settings.

Local-only and unauthenticated by design (the server binds 127.0.0.1). Endpoints:
  GET    /_sandbox/info              seed, scale, clock, keys and tokens, URL paths
  GET    /_sandbox/clock             the simulated now
  POST   /_sandbox/advance           {"hours": h, "days": d}: advance and generate traffic
  GET    /_sandbox/truth             ground truth; ?part=cleanbox|emboux|journal for one part
  POST   /_sandbox/collections       {"day": "YYYY-MM-DD", "top_senders": n}: keep the metrics
                                     a collection now would read (the journal's collections)
  GET    /_sandbox/faults            installed fault rules with their counters
  POST   /_sandbox/faults            install a rule (see faults.py), answers it with its id
  DELETE /_sandbox/faults            remove every rule
  GET    /_sandbox/faults/log        every faulted request: rule, kind, method, path, body
  DELETE /_sandbox/faults/{id}       remove one rule
  GET    /_sandbox/slack             every payload posted to the Slack stand-in
  DELETE /_sandbox/slack             forget them
  PUT    /_sandbox/settings          {"cleanbox_total": bool}
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse as _JSONResponse

from sandbox.faults import FaultInjector
from sandbox.journal import record_collection
from sandbox.slack import SlackRecorder
from sandbox.traffic import advance
from sandbox.world import World

MAX_ADVANCE_DAYS = 400


class JSONResponse(_JSONResponse):
    """JSON with every non-ASCII character escaped: a fault rule may hold a lone surrogate
    (a `rewrite` serving what a stranger's server could), which UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def info(world: World) -> dict[str, Any]:
    """What a client needs to talk to the sandbox (keys included: it is a local sandbox)."""
    return {
        "seed": world.seed,
        "scale": world.scale,
        "now": world.clock.now().isoformat(),
        "cleanbox_path": "/cleanbox/v1",
        "emboux_path": "/emboux",
        "slack_webhook_path": world.slack_path,
        "team_keys": world.team_keys,
        "master_token": world.master_token,
        "customer_tokens": world.customer_tokens,
        "mailgun_signing_key": world.mailgun_signing_key,
        "cleanbox_total": world.cleanbox_total,
        "teams": len(world.teams),
        "domains": len(world.domains),
        "contacts": sum(len(t.contacts) for t in world.teams),
        "build_seconds": round(world.build_seconds, 3),
    }


def cleanbox_truth(world: World) -> dict[str, Any]:
    today = world.clock.today().isoformat()
    return {"teams": {t.name: t.truth(today) for t in world.teams}}


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _problem(message: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "message": message}, status_code=status)


def build_router(world: World, faults: FaultInjector, slack: SlackRecorder) -> APIRouter:
    """The control endpoints, relative to the /_sandbox mount."""
    router = APIRouter()

    @router.get("/info")
    async def get_info() -> JSONResponse:
        return JSONResponse(info(world))

    @router.get("/clock")
    async def get_clock() -> JSONResponse:
        return JSONResponse({"now": world.clock.now().isoformat()})

    @router.post("/advance")
    async def post_advance(request: Request) -> JSONResponse:
        try:
            body = await _body(request)
            hours, days = body.get("hours", 0), body.get("days", 0)
            if any(isinstance(v, bool) or not isinstance(v, int | float) or v < 0
                   for v in (hours, days)):
                raise ValueError("hours and days must be non-negative numbers")
            seconds = round(hours * 3600 + days * 86400)
            if seconds > MAX_ADVANCE_DAYS * 86400:
                raise ValueError(f"advance at most {MAX_ADVANCE_DAYS} days per call")
        except ValueError as exc:
            return _problem(str(exc))
        return JSONResponse(advance(world, seconds))

    @router.get("/truth")
    async def get_truth(request: Request) -> JSONResponse:
        part = request.query_params.get("part")
        body: dict[str, Any] = {"now": world.clock.now().isoformat()}
        if part in (None, "cleanbox"):
            body["cleanbox"] = cleanbox_truth(world)
        if part in (None, "emboux"):
            body["emboux"] = world.emboux.truth()
        if part in (None, "journal"):
            body["journal"] = world.journal.to_json()
        if part not in (None, "cleanbox", "emboux", "journal"):
            return _problem("part must be cleanbox, emboux or journal")
        return JSONResponse(body)

    @router.post("/collections")
    async def post_collection(request: Request) -> JSONResponse:
        try:
            body = await _body(request)
            day, top = body.get("day"), body.get("top_senders", 5)
            if not isinstance(day, str) or not day:
                raise ValueError("day must be a day such as 2026-10-01")
            if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
                raise ValueError("top_senders must be an integer from 1 to 100")
        except ValueError as exc:
            return _problem(str(exc))
        entry = record_collection(world.journal, world.teams, world.emboux, world.categories,
                                  day=day, top_senders=top)
        return JSONResponse(entry, status_code=201)

    @router.get("/faults")
    async def list_faults() -> JSONResponse:
        return JSONResponse({"data": [r.to_json() for r in faults.rules]})

    @router.post("/faults")
    async def add_fault(request: Request) -> JSONResponse:
        try:
            rule = faults.add(await _body(request))
        except (ValueError, TypeError) as exc:
            return _problem(str(exc))
        return JSONResponse(rule.to_json(), status_code=201)

    @router.get("/faults/log")
    async def fault_log() -> JSONResponse:
        return JSONResponse({"data": faults.log})

    @router.delete("/faults")
    async def clear_faults() -> JSONResponse:
        return JSONResponse({"removed": faults.clear()})

    @router.delete("/faults/{rule_id}")
    async def remove_fault(rule_id: str) -> JSONResponse:
        if not faults.remove(rule_id):
            return _problem("no such fault rule", 404)
        return JSONResponse({"removed": 1})

    @router.get("/slack")
    async def slack_posts() -> JSONResponse:
        return JSONResponse({"data": slack.posts})

    @router.delete("/slack")
    async def clear_slack() -> JSONResponse:
        return JSONResponse({"removed": slack.clear()})

    @router.put("/settings")
    async def put_settings(request: Request) -> JSONResponse:
        try:
            body = await _body(request)
        except ValueError as exc:
            return _problem(str(exc))
        total = body.get("cleanbox_total")
        if total is not None:
            if not isinstance(total, bool):
                return _problem("cleanbox_total must be true or false")
            world.cleanbox_total = total
        return JSONResponse({"cleanbox_total": world.cleanbox_total})

    return router
