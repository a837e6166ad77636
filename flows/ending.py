"""How a run that carried on past problems ends: its result, or Failed naming each one."""

from __future__ import annotations

from collections.abc import Sequence
from logging import Logger, LoggerAdapter
from typing import Any

from prefect.states import Failed, State


def end_with(
    result: dict[str, Any], problems: Sequence[str], logger: Logger | LoggerAdapter[Any]
) -> dict[str, Any] | State:
    """The result when nothing went wrong; else a Failed state whose message names every
    problem and whose data keeps the result (what was done is not lost)."""
    if not problems:
        return result
    message = f"{len(problems)} problem(s): " + "; ".join(problems)
    logger.error(message)
    return Failed(message=message, data=result)
