"""`mailops demo`: several simulated weeks of every job in the sandbox, in a few minutes."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from cli.app import JsonFlag, output
from cli.commands import SeedOption, SimulationFolderOption, WeeksOption, progress_bar
from mailops.report.escape import terminal_text


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(weeks: WeeksOption = 5, seed: SeedOption = 7,
         folder: SimulationFolderOption = Path("data/demo"),
         json_output: JsonFlag = False) -> None:
    """Run every job on its schedule over simulated weeks in the sandbox; no keys needed."""
    # Prefect's own INFO lines would drown the progress bar; warnings and errors still show.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from sandbox.demo import run_demo

    with progress_bar("simulating", hidden=json_output or output.json) as on_step:
        summary = run_demo(weeks=weeks, seed=seed, folder=folder, on_step=on_step)

    runs = ", ".join(f"{name} x{count}" for name, count in sorted(summary.runs.items()))
    lines = [
        f"Simulated {summary.weeks} week{'s' if summary.weeks != 1 else ''} "
        f"({summary.started:%Y-%m-%d} to {summary.ended:%Y-%m-%d}) in the sandbox.",
        f"Flow runs: {runs}.",
        f"Alerts stored: {summary.alerts}.",
        *(f"Onboarded:     {terminal_text(name)} "
          + (f"verified {when[:16]} (outbound mail possible)" if when else "still pending")
          for name, when in summary.onboarded.items()),
        f"Database:      {summary.database}   (try: sqlite-utils tables {summary.database} "
        "--counts)",
        f"Slack posts:   {summary.slack_posts}",
    ]
    lines += [f"Report:        {path}" for path in summary.reports]
    lines.append(
        f"Dashboard:     MAILOPS_DATABASE_URL=sqlite:///{summary.database} mailops dashboard"
    )
    if summary.failed:
        lines.append(f"{len(summary.failed)} runs failed:")
        lines += [f"  {terminal_text(line)}" for line in summary.failed[:10]]
    output.finish("\n".join(lines), summary, local_json=json_output)
