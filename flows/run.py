"""Run a flow to its final state in this process and say how it ended: `FlowOutcome`.

The commands (cli/), the demo and chaos runs (sandbox/) and the tests all start flows this
way, so an expected failure arrives as a state with one line, never as a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from mailops.errors import ConfigError


@dataclass(frozen=True)
class FlowOutcome:
    """What a flow run ended with: its result, and the failure message when it failed.

    `unexpected` is a run that raised instead of ending in its own one-line failure;
    `config` a failure of the configuration (its command exits 2); `run_id` is the Prefect
    flow run's id (its logs and artifacts are filed under it); `state` the final state's
    name as the runs list shows it (a gated run's verdict: Applied, Rejected, Expired, ...).
    """

    ok: bool
    result: Any
    message: str | None
    run_id: str | None = None
    unexpected: bool = False
    config: bool = False
    state: str | None = None


def run_flow(flow: Callable[..., Coroutine[Any, Any, Any]], **parameters: Any) -> FlowOutcome:
    """Run an async flow to its final state and return its result, failed or not.

    Flows return `Failed(message=..., data=result)` for expected failures (a rejected key,
    a server down), so the command can print the partial result and one line, with no
    traceback.
    """
    from prefect.context import SyncClientContext

    from flows.ending import CONFIG_ERROR

    # A synchronous task in an async flow finds no Prefect client in its context and opens
    # one of its own (a CA bundle read, a connection, a version check): each of the run's
    # synchronous tasks and its result store would. One client for the whole run instead.
    with SyncClientContext.get_or_create():
        state = asyncio.run(flow(**parameters, return_state=True))
    result = state.result(raise_on_failure=False)
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    if isinstance(result, BaseException):
        if isinstance(result, ConfigError):
            return FlowOutcome(False, None, f"{CONFIG_ERROR}{result}", run_id, unexpected=True,
                               config=True, state=state.name)
        return FlowOutcome(False, None, state.message or str(result), run_id, unexpected=True,
                           state=state.name)
    ok = state.is_completed()
    message = None if ok else state.message
    return FlowOutcome(ok, result, message, run_id,
                       config=bool(message and message.startswith(CONFIG_ERROR)),
                       state=state.name)
