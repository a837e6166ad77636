"""A stand-in for a Slack incoming webhook that records every payload it is sent.

Like Slack, it answers 200 with the text `ok`, 404 `no_service` for a URL other than the
configured one, 400 `invalid_payload` for a body that is not a JSON object, and 400 `no_text`
when the object has neither `text` nor `blocks`. Every request is
recorded, accepted or not, so the demo and tests see exactly what would have been posted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from sandbox.clock import SimClock


@dataclass
class SlackRecorder:
    """Every payload posted to the webhook, in arrival order."""

    clock: SimClock
    service_path: str  # the part of the webhook URL after /slack/services/
    posts: list[dict[str, Any]] = field(default_factory=list)

    def record(self, path: str, raw: bytes) -> tuple[int, str]:
        """Record one post and return Slack's (status, text) answer for it."""
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if path != self.service_path:
            status, answer = 404, "no_service"
        elif not isinstance(payload, dict):
            status, answer = 400, "invalid_payload"
        elif not payload.get("text") and not payload.get("blocks"):
            status, answer = 400, "no_text"
        else:
            status, answer = 200, "ok"
        self.posts.append({
            "path": path,
            "payload": payload,
            "raw": raw.decode("utf-8", errors="replace") if payload is None else None,
            "status": status,
            "sim_time": self.clock.now().isoformat(),
        })
        return status, answer

    def clear(self) -> int:
        """Forget every post; answers how many there were."""
        n = len(self.posts)
        self.posts.clear()
        return n


def build_router(recorder: SlackRecorder) -> APIRouter:
    """The webhook endpoint, relative to the /slack mount: any path under /services/."""
    router = APIRouter()

    @router.post("/services/{path:path}")
    async def webhook(path: str, request: Request) -> PlainTextResponse:
        status, answer = recorder.record(path, await request.body())
        return PlainTextResponse(answer, status_code=status)

    return router
