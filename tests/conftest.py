"""What every area of the tests needs: session settings, the `slow` marking, a clean
environment. The fixtures of one area are in that area's conftest.py (tests/flows/,
tests/http/, ...); those several areas share are in the fixtures_*.py modules beside this
file, registered here as plugins."""

from __future__ import annotations

import os

import pytest

# The task run recorder is not needed in tests and slows every flow run (Prefect PR #14969).
os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED", "false")

import tasks  # noqa: F401  (Prefect's quiet defaults, set before Prefect is imported)

pytest_plugins = [
    "fixtures_store",
    "fixtures_prefect",
    "fixtures_http",
    "fixtures_sandbox",
    "fixtures_trends",
    "fixtures_dashboard",
]
pytest.register_assert_rewrite(*pytest_plugins)  # before the import below, as pytest's would be

from fixtures_prefect import NO_LOCAL_PREFECT_SERVER  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the session's PostgreSQL server is `slow` (as the chaos run, the scale demo,
    the demo and the browser tests are, by their modules' marks): `make test-fast` leaves
    them out for the inner loop, `make test` (and CI) runs everything."""
    for item in items:
        if "local_postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MAILOPS_ variable of the developer's shell leaks into a test, and no command run by
    a test (in this process or a child) starts a background Prefect server by accident."""
    for name in list(os.environ):
        if name.upper().startswith("MAILOPS_"):
            monkeypatch.delenv(name)
    for name, value in NO_LOCAL_PREFECT_SERVER.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked `anyio`) run on asyncio, as mailops does."""
    return "asyncio"
