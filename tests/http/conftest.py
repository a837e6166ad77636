"""The HTTP layer's own fixtures: the scripted API answered in process (the server, the
fake clock and `make_client` are in tests/fixtures_http.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fixtures_http import client_builder
from scripted_server import FakeClock, MockApi

from mailops.http import ApiClient


@pytest.fixture
def mock_api() -> MockApi:
    """The scripted API answered in process (httpx.MockTransport), for tests of what is sent
    and how answers are read: no socket behaviour (delays, drops) is tested on it."""
    return MockApi()


@pytest.fixture
def make_mock_client(mock_api: MockApi, fake_clock: FakeClock) -> Callable[..., ApiClient]:
    """Build ApiClients answered by `mock_api`, sleeping on the fake clock."""
    return client_builder(mock_api.url, fake_clock, mock_api.transport)
