"""How a run that carried on past problems ends: its result, or Failed naming each one."""

from __future__ import annotations

from collections.abc import Sequence
from logging import Logger, LoggerAdapter
from typing import Any

from prefect.states import Failed, State

from mailops.errors import ConfigError, MailopsError

# How a run's failure message starts when its configuration is wrong: the command that ran
# it exits 2, as for any other configuration error (flows.commands.run_job).
CONFIG_ERROR = "configuration error: "


def stopped(exc: MailopsError, job: str | None = None) -> str:
    """Why a run stopped, in one line: `job stopped: ...` (or the error alone), and for a
    configuration error `configuration error: ...`, so that a hand run exits 2 on it."""
    if isinstance(exc, ConfigError):
        return f"{CONFIG_ERROR}{exc}"
    return f"{job} stopped: {exc}" if job else str(exc)


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
