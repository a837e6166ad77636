"""How a run ends: its result, or Failed naming each problem it carried on past; a gated
run's verdict as its state's name (Applied, Rejected, Expired, Dry run, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from logging import Logger, LoggerAdapter
from typing import Any, TypeVar

from prefect.states import Completed, Failed, State

from mailops.errors import ConfigError, MailopsError
from mailops.gate import NEEDS_A_PERSON, GateDecision

# How a run's failure message starts when its configuration is wrong: the command that ran
# it exits 2, as for any other configuration error (cli.commands.run_job).
CONFIG_ERROR = "configuration error: "

R = TypeVar("R")  # a job's result: its typed result object
D = TypeVar("D")  # a result dataclass with a `notification` field


def stopped(exc: MailopsError, job: str | None = None) -> str:
    """Why a run stopped, in one line: `job stopped: ...` (or the error alone), and for a
    configuration error `configuration error: ...`, so that a hand run exits 2 on it."""
    if isinstance(exc, ConfigError):
        return f"{CONFIG_ERROR}{exc}"
    return f"{job} stopped: {exc}" if job else str(exc)


def end_with(
    result: R, problems: Sequence[str], logger: Logger | LoggerAdapter[Any]
) -> R | State:
    """The result when nothing went wrong; else a Failed state whose message names every
    problem and whose data keeps the result (what was done is not lost)."""
    if not problems:
        return result
    message = f"{len(problems)} problem(s): " + "; ".join(problems)
    logger.error(message)
    return Failed(message=message, data=result)


def notified(
    result: D, sent: tuple[str | None, str | None], logger: Logger | LoggerAdapter[Any]
) -> D:
    """`result` with where its summary was posted (`sent` is a notify task's answer: where
    it went, or why not); a summary not sent is a warning, never the run's failure."""
    delivered, error = sent
    if error is not None:
        logger.warning("the summary was not sent: %s", error)
    return replace(result, notification=delivered)  # type: ignore[type-var]


def gated_end(
    result: object,
    decision: GateDecision,
    logger: Logger | LoggerAdapter[Any],
    *,
    problems: Sequence[str] = (),
    failure: str | None = None,
) -> State:
    """A gated run's final state, named for its verdict (the runs list tells a rejected run
    from an applied one) with the reason as its message and the result as its data: Failed
    when the verdict needs a person, on a `failure` already worded in one line, or with
    `problems`; otherwise Completed."""
    if decision.verdict in NEEDS_A_PERSON:
        logger.error(decision.reason)
        return Failed(name=decision.verdict.value, message=decision.reason, data=result)
    if failure:
        logger.error(failure)
        return Failed(message=failure, data=result)
    ended = end_with(result, problems, logger)
    if isinstance(ended, State):
        return ended
    logger.info("%s: %s", decision.verdict, decision.reason)
    return Completed(name=decision.verdict.value, message=decision.reason, data=result)
