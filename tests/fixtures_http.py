"""The scripted HTTP server on 127.0.0.1 and ApiClients against it (tests/http/, the Slack
report, a flow's lost answers): for what needs a socket (delays, drops, requests in flight)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from scripted_server import TEST_KEY, FakeClock, ScriptedServer

from mailops.http import ApiClient
from mailops.settings import ApiLimits, HttpSettings


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1."""
    scripted = ScriptedServer().start()
    yield scripted
    scripted.stop()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def client_builder(
    url: str, fake_clock: FakeClock, transport: httpx.AsyncBaseTransport | None = None
) -> Callable[..., ApiClient]:
    """Build ApiClients against `url` (through `transport` when given), sleeping on the fake
    clock: three attempts, a 2-second read timeout, no rate limit, seeded jitter."""

    def build(
        *,
        api: str = "Cleanbox",
        base_url: str | None = None,
        key: str | None = TEST_KEY,
        subject: str | None = "team 'acme'",
        http: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
    ) -> ApiClient:
        return ApiClient(
            api,
            base_url or url,
            api_key=SecretStr(key) if key else None,
            subject=subject,
            http=HttpSettings(**{"max_attempts": 3, "read_timeout": 2.0, **(http or {})}),
            limits=ApiLimits(**{"rate_limit_per_second": 0, **(limits or {})}),
            transport=transport,
            sleep=fake_clock.sleep,
            clock=fake_clock.monotonic,
            rng=random.Random(7),
        )

    return build


@pytest.fixture
def make_client(server: ScriptedServer, fake_clock: FakeClock) -> Callable[..., ApiClient]:
    """Build ApiClients against the scripted server, sleeping on the fake clock."""
    return client_builder(server.url, fake_clock)
