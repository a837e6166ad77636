"""`mailops server status|start|stop`: the local Prefect server that hand runs share.

A hand run (`mailops <job>`) without PREFECT_API_URL finds or starts this server itself
(`cli.commands.prefect_api`); these commands show it, start it ahead of a first run, and
end it. The process is managed by `mailops.prefect_server`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.app import EXIT_CONFIG, JsonFlag, output
from cli.commands import add_group, local_prefect_server
from mailops import prefect_server
from mailops.errors import ConfigError
from mailops.settings import load_settings


def register(app: typer.Typer) -> None:
    add_group(app, "server", "The local Prefect server of hand runs (without PREFECT_API_URL).",
              {"status": status, "start": start, "stop": stop})


def _data_dir() -> Path:
    try:
        return Path(load_settings().data_dir)
    except ConfigError as exc:
        output.fail(f"configuration error: {exc}", EXIT_CONFIG)


def _described(server: prefect_server.LocalServer) -> dict[str, Any]:
    return {"url": server.url, "api_url": server.api_url, "pid": server.pid,
            "home": server.home, "started_at": server.started_at}


def status(json_output: JsonFlag = False) -> None:
    """Say where hand runs reach Prefect (exit 1 when no server is there).

    PREFECT_API_URL when set; else the local server, when it runs.
    """
    data_dir = _data_dir()
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    server = prefect_server.find(data_dir)
    data: dict[str, Any] = {"prefect_api_url": configured, "running": server is not None,
                            "home": str(prefect_server.home_of(data_dir))}
    if server is not None:
        data |= _described(server)
    lines = []
    if configured and not prefect_server.serves(data_dir, configured):
        lines.append(f"Hand runs use PREFECT_API_URL={configured}.")
    if server is not None:
        lines.append(f"The local Prefect server runs at {server.url} (pid {server.pid}, since "
                     f"{server.started_at}, home {server.home}; `mailops server stop` ends it).")
    elif not configured:
        lines.append(f"No local Prefect server runs for {data_dir}: the next hand run starts one "
                     "(or `mailops server start`).")
    output.finish("\n".join(lines), data, local_json=json_output,
                  error=None if server is not None or configured else
                  "no Prefect server for hand runs")


def start(json_output: JsonFlag = False) -> None:
    """Start the local Prefect server now, or show the one running.

    A hand run starts it anyway; starting it first spares that run the wait.
    """
    data_dir = _data_dir()
    found = prefect_server.find(data_dir)
    server = found or local_prefect_server(data_dir)
    summary = (f"The local Prefect server runs at {server.url} (pid {server.pid})."
               if found else f"Hand runs now use {server.url}.")
    output.emit(summary, {"started": found is None, **_described(server)},
                local_json=json_output)


def stop(json_output: JsonFlag = False) -> None:
    """End the local Prefect server (the next hand run starts it again)."""
    data_dir = _data_dir()
    server = prefect_server.stop(data_dir)
    if server is None:
        output.emit(f"No local Prefect server runs for {data_dir}.", {"stopped": False},
                    local_json=json_output)
        return
    output.emit(f"Stopped the local Prefect server at {server.url} (pid {server.pid}); its "
                f"runs stay in {server.home}.", {"stopped": True, **_described(server)},
                local_json=json_output)
