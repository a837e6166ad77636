"""The jobs' `mailops` commands, and what they share.

Each module here has `register(app)`, which adds its commands to the typer app of
`cli.app`; a command imports its flow (and so Prefect) only when it runs, through
`run_job`: the configuration is checked first (exit 2 before anything starts), then the
run is given a Prefect API (PREFECT_API_URL, else the local server of hand runs).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cli.app import EXIT_CONFIG, EXIT_FAILED, output
from flows.run import FlowOutcome, run_flow
from mailops.errors import ConfigError, MailopsError, PrefectServerError
from mailops.rules.shard import Shard
from mailops.settings import Settings, load_settings

if TYPE_CHECKING:
    from mailops.prefect_server import LocalServer

# The jobs' shared options.
TeamsOption = Annotated[
    list[str] | None, typer.Option("--team", help="Only this team (repeatable).")
]
ResumeOption = Annotated[
    str | None,
    typer.Option("--resume", help="Apply the stored plan of this run id (skips what is done)."),
]
NoSummaryOption = Annotated[bool, typer.Option("--no-notify", help="Post no Slack summary.")]
NoNotifyOption = Annotated[bool, typer.Option("--no-notify", help="Post nothing to Slack.")]


def apply_option(does: str, otherwise: str = "plan only") -> Any:
    """A command's `--apply`: what it `does` when given, and what it does `otherwise`."""
    return Annotated[bool, typer.Option("--apply", help=f"{does} (default: {otherwise}).")]


def max_actions_option(cap: str) -> Any:
    """A gated command's `--max-actions`: the cap on a plan it applies (`cap` says which)."""
    return Annotated[int | None, typer.Option("--max-actions", min=1, help=cap)]


def as_of_option(instant: str) -> Any:
    """A job's `--as-of`: the ISO 8601 `instant` it is taken as (the clock by default)."""
    return Annotated[str | None,
                     typer.Option("--as-of", help=f"ISO 8601 instant {instant} (default: now).")]


AsOfOption = as_of_option("taken as now")

# The simulations' options (demo, chaos).
WeeksOption = Annotated[
    int, typer.Option(min=1, max=12, help="Simulated weeks (5 reach a month's turn).")
]
SeedOption = Annotated[int, typer.Option(help="Seed of the simulated world (and its faults).")]
SimulationFolderOption = Annotated[
    Path, typer.Option(help="Where the run's database, payloads and evidence go (replaced).")
]
ShardOption = Annotated[
    str | None,
    typer.Option("--shard", help="i/n: only the part of the work of shard i of n (e.g. 1/4)."),
]


def add_group(
    app: typer.Typer, name: str, about: str, commands: dict[str, Callable[..., None]]
) -> None:
    """Add the command group `name` (`mailops NAME COMMAND`; `about` is its help) with
    `commands`, each command's name to its function."""
    group = typer.Typer(help=about, no_args_is_help=True)
    for command, function in commands.items():
        group.command(command)(function)
    app.add_typer(group, name=name)


R = TypeVar("R")  # a job's typed result


def job_result(
    kind: type[R], flow: str, *, json_output: bool, as_of: str | None, **parameters: Any
) -> tuple[R | None, str | None]:
    """Run a job command's flow (`run_job`, `--as-of` checked first and, with `--json`, its
    failures too one JSON object): its result when it is a `kind` (None when the run ended
    without one), and why it failed (None when it did not)."""
    output.json = output.json or json_output
    instant = parse_instant(as_of)
    outcome = run_job(flow, as_of=instant, **parameters)
    result = outcome.result if isinstance(outcome.result, kind) else None
    return result, None if outcome.ok else outcome.message


def run_job(flow: str, **parameters: Any) -> FlowOutcome:
    """A job command's flow run (`flow` as "module:name", imported only once the
    configuration is known good): a configuration error is one line and exit 2 before
    Prefect is imported, or after the run when the flow found it; the run gets a Prefect API
    (`prefect_api`)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        output.fail(f"configuration error: {exc}", EXIT_CONFIG)
    module, name = flow.split(":")
    job = getattr(importlib.import_module(module), name)
    with prefect_api(settings):
        outcome = run_flow(job, **parameters)
    if outcome.config:
        output.fail(outcome.message or "configuration error", EXIT_CONFIG)
    return outcome


@contextmanager
def prefect_api(settings: Settings) -> Iterator[str | None]:
    """Give the flow runs inside a Prefect API, and yield its URL (None: Prefect's
    temporary server).

    PREFECT_API_URL (environment, Prefect profile, or a test harness) wins. Otherwise, as
    `prefect_server` says: the local server kept running under the data folder (found, or
    started once, saying so), Prefect's temporary server, or none (a configuration error).
    """
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    url = get_current_settings().api.url
    if url:
        yield url
        return
    if settings.prefect_server == "temporary":
        yield None
        return
    if settings.prefect_server == "none":
        output.fail(
            "configuration error: PREFECT_API_URL is not set and MAILOPS_PREFECT_SERVER is "
            "none: set PREFECT_API_URL to a Prefect server, or MAILOPS_PREFECT_SERVER to local",
            EXIT_CONFIG,
        )
    server = local_prefect_server(Path(settings.data_dir))
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server.api_url


def local_prefect_server(data_dir: Path) -> LocalServer:
    """The local Prefect server of hand runs, found or started (saying so on stderr once);
    one line and exit 1 when it cannot start."""
    from mailops import prefect_server

    def starting(home: Path) -> None:
        typer.echo(f"mailops: starting a local Prefect server for hand runs in {home} (up "
                   "to a minute or two)", err=True)

    def waiting(home: Path) -> None:
        typer.echo(f"mailops: waiting for the local Prefect server that another hand run is "
                   f"starting in {home}", err=True)

    try:
        server, started = prefect_server.ensure(data_dir, on_start=starting, on_wait=waiting)
    except PrefectServerError as exc:
        output.fail(str(exc), EXIT_FAILED)
    if started:
        typer.echo(f"mailops: started a local Prefect server at {server.url} (its home is "
                   f"{prefect_server.home_of(data_dir)}; `mailops server stop` ends it)",
                   err=True)
    return server


def parse_instant(text: str | None) -> datetime | None:
    """The `--as-of` option as an aware datetime (None when not given); a bad one is one line."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        output.fail(
            f"--as-of {text!r} is not an ISO 8601 time such as 2026-10-04T08:00Z", EXIT_CONFIG
        )
    if moment.tzinfo is None:
        output.fail("--as-of needs a time zone, e.g. 2026-10-04T08:00+00:00", EXIT_CONFIG)
    return moment


def parse_shard(text: str | None) -> str | None:
    """The `--shard` option checked before anything runs (a bad one is one line, exit 2)."""
    if text is None:
        return None
    try:
        return str(Shard.parse(text))
    except ConfigError as exc:
        output.fail(f"--shard: {exc}", EXIT_CONFIG)


def require_stored_plan(job: str, run_id: str | None, option: str = "--resume") -> None:
    """Refuse a run id naming no stored plan of `job` (unknown, or another job's) before the
    flow starts: one line and exit 2, like other bad input; nothing planned or applied. The
    flow checks again (a run started from the Prefect UI never passes here)."""
    if run_id is None:
        return
    from mailops.gate import check_stored_plan
    from mailops.store import Store

    try:
        settings = load_settings()
    except ConfigError as exc:
        output.fail(f"configuration error: {exc}", EXIT_CONFIG)
    try:
        with Store(settings.database_url) as store:
            store.upgrade()
            check_stored_plan(store, run_id, job, option=option)
    except ConfigError as exc:  # bad input: no such plan
        output.fail(str(exc), EXIT_CONFIG)
    except MailopsError as exc:
        output.fail(str(exc), EXIT_FAILED)


@contextmanager
def progress_bar(label: str, *, hidden: bool) -> Iterator[Callable[[int, int, str], None]]:
    """A transient progress bar for a long simulation; yields its `on_step(done, total, what)`
    (hidden, e.g. with --json, it shows nothing)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label), BarColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), transient=True, disable=hidden,
    ) as progress:
        bar = progress.add_task("starting", total=1)

        def on_step(done: int, total: int, what: str) -> None:
            progress.update(bar, completed=done, total=total, description=what)

        yield on_step
