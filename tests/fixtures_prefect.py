"""Prefect for the tests that run flows or commands (cli/, flows/, end_to_end/, ...): the
session's test server, the `mailops` app, deployments served in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import typer

# A test runs its flows under `prefect_harness` (PREFECT_API_URL): a command that would find
# or start the local Prefect server of hand runs instead fails with one line (exit 2). The
# tests of that server say MAILOPS_PREFECT_SERVER=local themselves, and stop what they start.
NO_LOCAL_PREFECT_SERVER = {"MAILOPS_PREFECT_SERVER": "none"}


@pytest.fixture(scope="session")
def cli() -> typer.Typer:
    """The `mailops` typer app with every command (cli.app.register_commands)."""
    from cli.app import app, register_commands

    register_commands(app)
    return app


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@dataclass
class ServedDeployments:
    """Deployments served to the test harness's server by a Prefect runner in a thread: flow
    runs created for them (run_deployment) execute in subprocesses, as under `mailops serve`."""

    runner: Any
    loop: Any
    thread: Any

    def stop(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.astop(), self.loop).result(60)
        self.thread.join(60)


def serve_in_thread(*deployments: Any, name: str, limit: int = 4) -> ServedDeployments:
    """Serve deployments (RunnerDeployment objects) to the Prefect API of the current
    settings with a Prefect runner in a thread, as `mailops serve` does; `stop()` ends it."""
    import asyncio
    import contextvars
    import threading

    from prefect.runner import Runner

    runner = Runner(name=name, query_seconds=1, limit=limit, pause_on_shutdown=False)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            for deployment in deployments:
                loop.run_until_complete(runner.aadd_deployment(deployment))
        except BaseException as exc:
            failure.append(exc)
            return
        finally:
            ready.set()
        loop.run_until_complete(runner.start())

    # the harness's settings live in a context variable: the thread needs a copy
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(serve,), daemon=True)
    thread.start()
    ready.wait(60)
    if failure:
        raise failure[0]
    return ServedDeployments(runner, loop, thread)
