"""Fault injection for the sandbox, as a pure-ASGI middleware wrapped around the whole app.

A rule targets "METHOD PATTERN" (method `*` for any; in the pattern `*` matches one path
segment and `**` any rest, e.g. `GET /cleanbox/v1/contacts`, `POST /emboux/outbound/*`,
`* /emboux/domains/*/outbound`). Kinds:

- `latency`: sleep `latency_ms` plus a uniform draw in [0, `jitter_ms`], then serve normally
  (stacks with the other kinds);
- `error`: answer `status` (default 500) with a JSON error, without reaching the app;
- `rate_limit`: answer 429 with a `Retry-After: retry_after` header (seconds, default 1);
- `hang`: send nothing until the client gives up or `hang_seconds` (default 30) pass, then drop;
- `malformed`: run the app, then send its body corrupted (never valid JSON);
- `lost_response`: run the app (the change is committed), then drop the connection without a
  byte of response: the client sees a connection error;
- `hold`: run the app (the change is committed), then hold its answer for `hang_seconds`
  (default 30) or until the client goes away, and only then send it: a client killed while
  it waits has made a change it never heard of;
- `down`: a burst: answer `status` (default 503) with `Retry-After` for every matching request
  while its window lasts;
- `rewrite`: run the app, then answer its JSON edited (an API that answers something the
  documentation does not promise): `drop` a list of dotted paths, `set` a mapping of dotted
  path to JSON value, or `body` the whole answer; in a path, a number is a list index and
  `*` every item (`data.*.email`). `bearer` limits any rule to requests with that key.

Every rule fires on a fraction `rate` (default 1) of matching requests, drawn from its own
generator seeded by the sandbox seed and the rule's serial number, so the same seed and the
same requests give the same faults. A rule may be limited to `count` firings and to a window:
`wall_seconds` from creation (wall clock), and/or simulated time `sim_from`/`sim_until` (ISO)
or `sim_hours` (from `sim_from`, else from the simulated now). Paths under /_sandbox are
never faulted. Every faulted request is logged (rule, kind, method, path, simulated time and
the first 64 KB of its body), so a reconciliation can tell what a client sent that the
application never saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.clock import SimClock
from sandbox.ids import parse_iso

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KINDS: tuple[str, ...] = (
    "latency", "error", "rate_limit", "hang", "malformed", "lost_response", "down", "rewrite",
    "hold",
)
_NO_BODY = object()
EXEMPT_PREFIX = "/_sandbox"
LOGGED_BODY_BYTES = 65_536
METHODS = ("*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: `*` one segment, `**` anything (including slashes)."""
    parts = re.split(r"(\*\*|\*)", pattern.rstrip("/") or "/")
    regex = "".join(
        ".*" if p == "**" else "[^/]*" if p == "*" else re.escape(p) for p in parts
    )
    return re.compile(regex + "/?")


@dataclass
class FaultRule:
    """One fault: what it targets, what it does, how often and for how long."""

    id: str
    target: str
    method: str
    regex: re.Pattern[str]
    kind: str
    rng: random.Random
    rate: float = 1.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    status: int = 500
    retry_after: int = 1
    hang_seconds: float = 30.0
    count: int | None = None
    wall_until: float | None = None
    sim_from: float | None = None
    sim_until: float | None = None
    fired: int = 0
    matched: int = 0
    spec: dict[str, Any] = field(default_factory=dict)
    bearer: str | None = None
    drop: tuple[str, ...] = ()
    set: dict[str, Any] = field(default_factory=dict)
    body: Any = _NO_BODY

    def applies(
        self, method: str, path: str, wall: float, sim: float, bearer: str | None = None
    ) -> bool:
        """Whether the rule is live now and targets this request."""
        if self.bearer is not None and bearer != self.bearer:
            return False
        if self.count is not None and self.fired >= self.count:
            return False
        if self.wall_until is not None and wall >= self.wall_until:
            return False
        if self.sim_from is not None and sim < self.sim_from:
            return False
        if self.sim_until is not None and sim >= self.sim_until:
            return False
        if self.method != "*" and self.method != method:
            return False
        return self.regex.fullmatch(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {**self.spec, "id": self.id, "fired": self.fired, "matched": self.matched}


def _number(spec: dict[str, Any], name: str, default: float | None) -> float | None:
    value = spec.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def make_rule(
    spec: dict[str, Any], *, serial: int, seed: int, clock: SimClock, wall_now: float
) -> FaultRule:
    """Validate a rule specification (the control API's JSON body) and build the rule."""
    known = {"target", "kind", "rate", "latency_ms", "jitter_ms", "status", "retry_after",
             "hang_seconds", "count", "wall_seconds", "sim_from", "sim_until", "sim_hours",
             "bearer", "drop", "set", "body"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown fault parameters: {', '.join(sorted(unknown))}")
    target = spec.get("target")
    if not isinstance(target, str) or " " not in target.strip():
        raise ValueError("target must be 'METHOD /path/pattern', e.g. 'GET /cleanbox/v1/contacts'")
    method, pattern = target.strip().split(None, 1)
    method = method.upper()
    if method not in METHODS or not pattern.startswith("/"):
        raise ValueError("target must be 'METHOD /path/pattern' with a known method or '*'")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    rate = _number(spec, "rate", 1.0)
    if rate is None or rate > 1:
        raise ValueError("rate must be between 0 and 1")
    status = int(spec.get("status", 503 if kind == "down" else 500))
    if kind in ("error", "down") and not 500 <= status <= 599:
        raise ValueError("status must be a 5xx code")
    count = spec.get("count")
    if count is not None and (not isinstance(count, int) or count < 0):
        raise ValueError("count must be a non-negative integer")
    sim_from = _sim_time(spec, "sim_from")
    sim_until = _sim_time(spec, "sim_until")
    sim_hours = _number(spec, "sim_hours", None)
    if sim_hours is not None:
        origin = sim_from if sim_from is not None else clock.now().timestamp()
        sim_until = origin + sim_hours * 3600
    wall_seconds = _number(spec, "wall_seconds", None)
    bearer, drop, edits = spec.get("bearer"), spec.get("drop", []), spec.get("set", {})
    if bearer is not None and not isinstance(bearer, str):
        raise ValueError("bearer must be the key a request carries")
    if not isinstance(drop, list) or not all(isinstance(p, str) and p for p in drop):
        raise ValueError("drop must be a list of dotted paths")
    if not isinstance(edits, dict):
        raise ValueError("set must map dotted paths to JSON values")
    if kind == "rewrite" and not (drop or edits or "body" in spec):
        raise ValueError("a rewrite needs drop, set or body")
    return FaultRule(
        id=f"f{serial}",
        target=f"{method} {pattern}",
        method=method,
        regex=compile_pattern(pattern),
        kind=kind,
        rng=random.Random(f"mailops-sandbox:{seed}:fault:{serial}"),
        rate=rate,
        latency_ms=_number(spec, "latency_ms", 0.0) or 0.0,
        jitter_ms=_number(spec, "jitter_ms", 0.0) or 0.0,
        status=status,
        retry_after=int(_number(spec, "retry_after", 1.0) or 0),
        hang_seconds=_number(spec, "hang_seconds", 30.0) or 0.0,
        count=count,
        wall_until=None if wall_seconds is None else wall_now + wall_seconds,
        sim_from=sim_from,
        sim_until=sim_until,
        spec={**{k: v for k, v in spec.items() if k != "bearer"},
              "target": f"{method} {pattern}", "kind": kind,
              **({"bearer": "[set]"} if bearer else {})},
        bearer=bearer,
        drop=tuple(drop),
        set=dict(edits),
        body=spec.get("body", _NO_BODY),
    )


def _sim_time(spec: dict[str, Any], name: str) -> float | None:
    raw = spec.get(name)
    if raw is None:
        return None
    moment = parse_iso(raw) if isinstance(raw, str) else None
    if moment is None:
        raise ValueError(f"{name} must be an ISO 8601 time")
    return moment


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list | None = None
) -> None:
    raw = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()), *(headers or [])],
    })
    await send({"type": "http.response.body", "body": raw})


async def drop_connection(send: Send) -> None:
    """Close the client's connection without a response.

    ASGI has no message for this, so we reach uvicorn's transport through its bound `send`;
    elsewhere we fall back to a response cut short, which the client also sees as a failure.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        for _ in range(3):  # let the server notice before the app returns
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})


def _steps(path: str) -> list[str]:
    return path.split(".")


def _targets(node: Any, steps: list[str]) -> list[tuple[Any, str | int]]:
    """(container, key) pairs a dotted path names in `node` (`*`: every list item)."""
    found: list[tuple[Any, str | int]] = []
    head, rest = steps[0], steps[1:]
    keys: list[str | int]
    if isinstance(node, list):
        keys = list(range(len(node))) if head == "*" else (
            [int(head)] if head.lstrip("-").isdigit() and -len(node) <= int(head) < len(node)
            else [])
    elif isinstance(node, dict):
        keys = [head] if head in node or not rest else []
    else:
        keys = []
    for key in keys:
        if rest:
            found += _targets(node[key], rest)  # type: ignore[index]
        else:
            found.append((node, key))
    return found


def edit_json(body: Any, drop: tuple[str, ...], edits: dict[str, Any]) -> Any:
    """`body` with each `drop` path removed and each `set` path given its value."""
    for path in drop:
        for container, key in reversed(_targets(body, _steps(path))):
            if isinstance(container, dict):
                container.pop(key, None)
            else:
                del container[key]  # type: ignore[arg-type]
    for path, value in edits.items():
        for container, key in _targets(body, _steps(path)):
            container[key] = json.loads(json.dumps(value))  # a copy per target
    return body


def corrupt(body: bytes, rng: random.Random) -> bytes:
    """A body that is certainly not valid JSON, chosen deterministically."""
    choice = rng.randrange(3)
    if choice == 0:
        return body[: max(1, len(body) // 2)] if len(body) > 1 else b"{"
    if choice == 1:
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return b'{"data": [1, 2,, "page": }'


class FaultInjector:
    """Pure-ASGI middleware applying the active fault rules to matching requests."""

    def __init__(self, app: ASGIApp, *, seed: int, clock: SimClock) -> None:
        self.app = app
        self.seed = seed
        self.clock = clock
        self.rules: list[FaultRule] = []
        self.log: list[dict[str, Any]] = []
        self._serial = 0

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate and install a rule (ValueError on a bad specification)."""
        self._serial += 1
        rule = make_rule(spec, serial=self._serial, seed=self.seed, clock=self.clock,
                         wall_now=time.monotonic())
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def clear(self) -> int:
        """Remove every rule (the log of faulted requests stays)."""
        n = len(self.rules)
        self.rules = []
        return n

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.rules or scope["path"].startswith(EXEMPT_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        wall, sim = time.monotonic(), self.clock.now().timestamp()
        bearer = _bearer(scope)
        delay = 0.0
        chosen: FaultRule | None = None
        for rule in self.rules:
            if not rule.applies(method, path, wall, sim, bearer):
                continue
            rule.matched += 1
            if rule.rng.random() >= rule.rate:
                continue
            if rule.kind == "latency":
                rule.fired += 1
                delay += (rule.latency_ms + rule.rng.uniform(0.0, rule.jitter_ms)) / 1000.0
            elif chosen is None:
                rule.fired += 1
                chosen = rule
        if delay:
            await asyncio.sleep(delay)
        if chosen is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        self.log.append({
            "rule": chosen.id, "kind": chosen.kind, "method": method, "path": path,
            "sim": self.clock.now().isoformat(),
            "body": body[:LOGGED_BODY_BYTES].decode("utf-8", errors="replace"),
        })
        await self._inject(chosen, scope, _replay(body, receive), send)

    async def _inject(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        kind = rule.kind
        if kind == "error":
            await send_json(send, rule.status, {"error": "server_error",
                                                "message": "injected fault"})
        elif kind == "down":
            await send_json(send, rule.status,
                            {"error": "unavailable", "message": "injected outage"},
                            [(b"retry-after", str(rule.retry_after).encode())])
        elif kind == "rate_limit":
            await send_json(send, 429, {"error": "rate_limited", "message": "too many requests"},
                            [(b"retry-after", str(rule.retry_after).encode())])
        elif kind == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_disconnect(receive), rule.hang_seconds)
            await drop_connection(send)
        elif kind == "lost_response":
            await self.app(scope, receive, _swallow)
            await drop_connection(send)
        elif kind == "hold":
            await self._held(rule, scope, receive, send)
        else:
            await self._altered(rule, scope, receive, send)

    async def _held(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, keep its answer back for `hang_seconds` (or until the client leaves),
        then send it."""
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until_disconnect(receive), rule.hang_seconds)
        for message in messages:
            await send(message)

    async def _altered(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, then send its answer corrupted (`malformed`) or edited (`rewrite`)."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if rule.kind == "malformed":
            body = corrupt(b"".join(chunks), rule.rng)
        else:
            answer = (json.loads(json.dumps(rule.body)) if rule.body is not _NO_BODY
                      else edit_json(json.loads(b"".join(chunks) or b"null"), rule.drop,
                                     rule.set))
            body = json.dumps(answer).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({"type": "http.response.start", "status": start.get("status", 200),
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str | None:
    """The key of the request's `Authorization: Bearer` header, if any."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return key.strip() if scheme.lower() == "bearer" else None
    return None


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (the app, if it runs, gets it again through `_replay`)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then the client's later messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _swallow(message: Message) -> None:
    """A `send` that discards the response: the change is applied, the answer never leaves."""
