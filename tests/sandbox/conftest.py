"""The sandbox's own fixtures (the module's sandbox is in tests/fixtures_sandbox.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox.server import Sandbox


@pytest.fixture
def team_http(sandbox: Sandbox) -> Iterator[Callable[..., httpx.Client]]:
    """Build httpx clients that speak to the sandbox's Cleanbox as one team (by index)."""
    clients: list[httpx.Client] = []

    def build(team: int = 0, *, timeout: float = 10.0) -> httpx.Client:
        key = list(sandbox.team_keys.values())[team]
        client = httpx.Client(
            base_url=sandbox.cleanbox_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
            trust_env=False,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
