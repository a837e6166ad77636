"""Where a run's evidence is: everything it wrote or sent that a reconciliation reads, and the
places a secrets scan must look (logs, Slack payloads, every database row, every file under
the data folder, the Prefect API's logs, artifacts and flow-run parameters)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sandbox.server import Sandbox

Places = list[tuple[str, str]]  # (where, text)


def secrets_in_use(sandbox: Sandbox) -> dict[str, str]:
    """Every key, token and webhook URL mailops was given, by a label safe to print."""
    found = {f"Cleanbox key of team {name}": key for name, key in sandbox.team_keys.items()}
    found["EmBoux master token"] = sandbox.master_token
    found.update({f"EmBoux customer token of {ref}": token
                  for ref, token in sandbox.customer_tokens.items()})
    found["Slack webhook URL"] = sandbox.slack_webhook_url
    found["Slack webhook path"] = sandbox.world.slack_path.removeprefix("/slack/services/")
    found["Mailgun signing key"] = sandbox.mailgun_signing_key
    return found


def store_tables() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the configured store."""
    from mailops.settings import load_settings
    from mailops.store import Store

    with Store(load_settings().database_url) as store:
        return store.every_row()


def places_to_scan(
    posts: list[dict[str, Any]], tables: dict[str, list[dict[str, Any]]], folder: Path,
    run_ids: list[str],
) -> Places:
    """The Slack posts, every row, every file under `folder`, the runs' Prefect records."""
    places: Places = [(f"Slack post {n}", json.dumps([p.get("payload"), p.get("raw")]))
                      for n, p in enumerate(posts, start=1)]
    places += [(f"table {name} row {n}", json.dumps(row, default=str))
               for name, rows in tables.items() for n, row in enumerate(rows, start=1)]
    places += list(_files(folder))
    places += asyncio.run(_prefect_records(run_ids))
    return places


def log_places(lines: list[str]) -> Places:
    return [(f"log line {n}", line) for n, line in enumerate(lines, start=1)]


def outbox_payloads(folder: Path) -> list[Any]:
    """The Slack messages kept in the outbox (`<data>/slack`)."""
    return [json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((folder / "slack").glob("*.json"))]


def _files(folder: Path) -> Iterator[tuple[str, str]]:
    """Every file under the data folder, read as bytes (latin-1 keeps every byte)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield f"file {path.relative_to(folder)}", path.read_bytes().decode("latin-1")


async def every_page(read: Callable[..., Any], **filters: Any) -> list[Any]:
    """Every record a Prefect client read returns, not only its first page of 200."""
    found: list[Any] = []
    while True:
        page = await read(**filters, limit=200, offset=len(found))
        found += page
        if len(page) < 200:
            return found


async def _prefect_records(run_ids: list[str]) -> list[tuple[str, str]]:
    """The runs' logs, artifacts and parameters as the Prefect API keeps them."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    ids = [UUID(run_id) for run_id in run_ids]
    places: list[tuple[str, str]] = []
    async with get_client() as client:
        logs = await every_page(client.read_logs,
                           log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        places += [(f"Prefect log of run {log.flow_run_id}", log.message) for log in logs]
        artifacts = await every_page(
            client.read_artifacts,
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
        places += [(f"Prefect artifact {a.key or a.id}",
                    json.dumps([a.description, a.data], default=str)) for a in artifacts]
        runs = await every_page(client.read_flow_runs,
                           flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        places += [(f"Prefect parameters of run {r.name}", json.dumps(r.parameters, default=str))
                   for r in runs]
    return places


