"""The `mailops` command.

Every command prints a short human summary, or with `--json` (before or after the command
name) exactly one JSON object. Expected failures (bad configuration, a rejected key, a
server down) print one line naming what went wrong and exit non-zero, never a traceback.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, NoReturn, TypeVar

import typer

from mailops import __version__
from mailops.errors import ConfigError, MailopsError
from mailops.jsonable import to_jsonable
from mailops.report.escape import terminal_text
from mailops.secrets import install_log_redaction, redact
from mailops.settings import load_settings
from mailops.store import Store

EXIT_FAILED = 1
EXIT_CONFIG = 2

app = typer.Typer(
    name="mailops",
    help="Email-operations automation over Cleanbox and EmBoux.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The trend store.", no_args_is_help=True)
app.add_typer(db_app, name="db")

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of a summary.")
]


T = TypeVar("T")


def first_lines(
    items: Sequence[T], line: Callable[[T], str], limit: int, *, total: int | None = None,
    indent: str = "  ",
) -> list[str]:
    """A summary's list: the first `limit` items a line each, then `...and N more` when the
    list (or the `total` it was cut from) holds more."""
    shown = [indent + line(item) for item in items[:limit]]
    more = (len(items) if total is None else total) - len(shown)
    if more > 0:
        shown.append(f"{indent}...and {more} more")
    return shown


class _Output:
    """Where results go: the human summary or one JSON object."""

    json = False

    def emit(self, summary: str, data: object, *, local_json: bool = False) -> None:
        """Print a command's outcome: its summary, or its data (a typed result or a dict,
        made JSON by `to_jsonable`, the one serializer of the edge) as one object."""
        if self.json or local_json:
            body = {"ok": True, **to_jsonable(data)}
            typer.echo(json.dumps(body, default=str, sort_keys=True))
        else:
            typer.echo(summary)

    def finish(
        self,
        summary: str,
        data: object,
        *,
        error: str | None = None,
        local_json: bool = False,
    ) -> None:
        """Print a job's outcome once: its summary or its data as JSON (as `emit`), and
        when it failed, why (then exit 1)."""
        if self.json or local_json:
            body = {"ok": error is None, **to_jsonable(data)}
            if error is not None:
                body["error"] = redact(error)
            typer.echo(json.dumps(body, default=str, sort_keys=True))
        else:
            typer.echo(summary)
            if error is not None:
                typer.echo(f"mailops: {terminal_text(redact(error))}", err=True)
        if error is not None:
            raise SystemExit(EXIT_FAILED)

    def fail(self, message: str, code: int) -> NoReturn:
        message = redact(message)
        if self.json or "--json" in sys.argv[1:]:
            typer.echo(json.dumps({"ok": False, "error": message}))
        else:
            typer.echo(f"mailops: {terminal_text(message)}", err=True)
        raise SystemExit(code)


output = _Output()


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"mailops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    json_output: JsonFlag = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Email-operations automation over Cleanbox and EmBoux."""
    output.json = json_output


@db_app.command("upgrade")
def db_upgrade(json_output: JsonFlag = False) -> None:
    """Create the store, or migrate it to the newest schema."""
    settings = load_settings()
    with Store(settings.database_url) as store:
        before = store.revision()
        after = store.upgrade()
        where = store.display_url
    if before == after:
        summary = f"Database {where} is up to date (revision {after})."
    elif before is None:
        summary = f"Created database {where} at revision {after}."
    else:
        summary = f"Migrated database {where} from revision {before} to {after}."
    output.emit(
        summary,
        {"database": where, "from_revision": before, "revision": after},
        local_json=json_output,
    )


@app.command("dashboard")
def dashboard(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but 127.0.0.1 is reachable by others.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8760,
    refresh: Annotated[
        int, typer.Option(min=2, max=3600, help="Seconds between the pages' refreshes.")
    ] = 15,
) -> None:
    """Serve the monitoring web page over the store (read-only; MAILOPS_DASHBOARD_TOKEN
    makes it ask for that token)."""
    from mailops.dashboard.server import serve

    settings = load_settings()
    store = Store(settings.database_url)
    if store.revision() is None:
        output.fail(
            f"no mailops store at {store.display_url}: run `mailops db upgrade` or a job first",
            EXIT_CONFIG,
        )
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        typer.echo(
            f"mailops: warning: serving on {host} without a token; set "
            "MAILOPS_DASHBOARD_TOKEN to ask for one",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"Dashboard of {store.display_url} on http://{shown}:{port}/"
        f"{' (asks for MAILOPS_DASHBOARD_TOKEN)' if token else ''}; Ctrl-C stops it."
    )
    with store:
        serve(store, rules=settings.guard, token=token, refresh_seconds=refresh, host=host,
              port=port)


COMMAND_MODULES = (
    "health", "serve", "demo", "chaos", "outbound", "billing", "guard", "contacts",
    "quarantine", "report", "domains", "server", "alerts", "sandbox",
)


def register_commands(target: typer.Typer) -> None:
    """Add every command group of cli/commands/ (each module's `register(app)`); a command
    imports its flow, and so Prefect, only when it runs."""
    if getattr(target, "_mailops_commands_added", False):
        return
    target._mailops_commands_added = True  # type: ignore[attr-defined]
    for name in COMMAND_MODULES:
        importlib.import_module(f"cli.commands.{name}").register(target)


# Prefect's loggers of flow and task runs (and of the engine around them). Their records go
# to the Prefect API by their own handler, whatever the terminal shows.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.engine")
# Prefect's senders of those logs and of events, which warn at exit while they still send.
PREFECT_SENDERS = ("APILogWorker", "EventsWorker")


class RunLogsOnTerminal(logging.Filter):
    """On the command's terminal, a flow run's log lines only for a real bug.

    A command prints its outcome itself, and an expected failure (a MailopsError) as one
    line. Prefect's run loggers would add their INFO lines and, for a failed task, the
    traceback of that expected error. This filter keeps, of their records, only those
    carrying another exception's traceback (a bug); the Prefect API and UI keep every one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in PREFECT_SENDERS:
            return record.levelno > logging.WARNING
        if not record.name.startswith(RUN_LOGGERS):
            return True
        error = record.exc_info[1] if record.exc_info else None
        return error is not None and not isinstance(error, MailopsError)


def main() -> None:
    """Entry point: run the command, turning expected failures into one clear line."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RunLogsOnTerminal())
    install_log_redaction()
    try:
        register_commands(app)
        app(prog_name="mailops")
    except ConfigError as exc:
        output.fail(f"configuration error: {exc}", EXIT_CONFIG)
    except MailopsError as exc:
        output.fail(str(exc), EXIT_FAILED)
    finally:
        # Everything the command built is garbage now, and the interpreter's last full
        # collection of it (Prefect's, SQLAlchemy's, pydantic's objects) took 1.0-1.5 s of a
        # hand run's exit. Frozen, it is left to the process's end; the exit handlers
        # (Prefect flushing its logs and events to the server) still run.
        gc.freeze()


if __name__ == "__main__":
    main()
