"""Bounded concurrency and the client-side rate limit."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from scripted_server import FakeClock, Reply

from mailops.http import RateLimiter

pytestmark = pytest.mark.anyio


async def test_requests_in_flight_never_exceed_the_concurrency_bound(server, make_client):
    # Given a slow endpoint and a client bounded to 3 requests at once
    server.script("GET", "/team", Reply(json={}, delay=0.05))
    client = make_client(limits={"concurrency": 3})
    # When 12 requests are started together
    await asyncio.gather(*(client.get("/team") for _ in range(12)))
    # Then the server saw exactly 3 at a time at most
    assert len(server.received) == 12
    assert server.max_in_flight == 3


async def test_clients_of_other_teams_share_the_api_bound(server, make_client):
    server.script("GET", "/team", Reply(json={}, delay=0.05))
    acme = make_client(limits={"concurrency": 2})
    globex = acme.with_credential(SecretStr("globex-key-123456"), "team 'globex'")
    await asyncio.gather(*(c.get("/team") for c in [acme, globex] * 4))
    assert server.max_in_flight == 2
    assert {r.headers["authorization"] for r in server.received} == {
        "Bearer cbx_live_7f3a9c2e5b1d8f4a",
        "Bearer globex-key-123456",
    }


async def test_rate_limiter_spaces_request_starts():
    # Given 10 requests a second and no burst beyond one
    clock = FakeClock()
    limiter = RateLimiter(10, burst=1, clock=clock.monotonic, sleep=clock.sleep)
    # When 6 requests start
    for _ in range(6):
        await limiter.acquire()
    # Then the first went at once and the other five waited a tenth of a second each
    assert sum(clock.sleeps) == pytest.approx(0.5)


async def test_rate_limiter_allows_a_burst_then_throttles():
    clock = FakeClock()
    limiter = RateLimiter(5, burst=5, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(0.2)]


async def test_rate_limit_zero_means_unlimited():
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(1000):
        await limiter.acquire()
    assert clock.sleeps == []
