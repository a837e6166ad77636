"""Scripted APIs that answer from a script and record every request: a real HTTP server on
127.0.0.1 (ScriptedServer), and the same script answered in process (MockApi).

The HTTP layer's tests need a server that misbehaves on cue (503 then 200, a hung answer,
a dropped connection after reading a POST) and that counts what arrived and how many
requests were in flight at once: those need the socket. A test of what is sent and how an
answer is read (a client's shapes, pagination, redaction) needs none, and takes MockApi, an
`httpx.MockTransport` over the same script.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

TEST_KEY = "cbx_live_7f3a9c2e5b1d8f4a"


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # read the request, then close the connection without answering


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Received], Reply]


class ScriptedRoutes:
    """Routes (method, path) to a queue of replies (the last one repeats) or a function, and
    records every request received."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], deque[Reply] | Handler] = {}
        self.received: list[Received] = []
        self._lock = threading.Lock()

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self._routes[(method.upper(), path)] = deque(replies)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def requests_to(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path == path]

    def _next_reply(self, request: Received) -> Reply:
        route = self._routes.get((request.method, request.path))
        if route is None:
            return Reply(404, json={"detail": f"no route {request.method} {request.path}"})
        if callable(route):
            return route(request)
        with self._lock:
            return route.popleft() if len(route) > 1 else route[0]


def _payload(reply: Reply) -> bytes:
    if reply.body is not None:
        return reply.body
    return json.dumps(reply.json).encode() if reply.json is not None else b""


class MockApi(ScriptedRoutes):
    """The script answered in process by `httpx.MockTransport` (pass `transport` to the
    client, and `url` as its base URL): no socket, so no delay and no dropped connection."""

    url = "http://api.mock"

    def __init__(self) -> None:
        super().__init__()
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        received = Received(
            method=request.method,
            path=request.url.path,
            query=dict(request.url.params.multi_items()),  # the last value of a name, as above
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.content,
        )
        with self._lock:
            self.received.append(received)
        reply = self._next_reply(received)
        assert not (reply.delay or reply.drop), "a delay or a drop needs the ScriptedServer"
        return httpx.Response(
            reply.status, content=_payload(reply),
            headers={"Content-Type": "application/json", **reply.headers},
        )


class ScriptedServer(ScriptedRoutes):
    """The script served by a real HTTP server on 127.0.0.1, which also counts how many
    requests were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self._in_flight = 0
        self.max_in_flight = 0
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                server._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Received(
            method=handler.command,
            path=split.path,
            query={k: v[-1] for k, v in parse_qs(split.query).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.received.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            reply = self._next_reply(request)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                handler.close_connection = True
                handler.connection.close()
                return
            payload = _payload(reply)
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            handler.close_connection = True
        finally:
            with self._lock:
                self._in_flight -= 1


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
