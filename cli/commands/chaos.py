"""`mailops chaos`: the demo's weeks with every API misbehaving, then the reconciliation."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from cli.app import JsonFlag, output
from cli.commands import SeedOption, SimulationFolderOption, WeeksOption, progress_bar
from mailops.report.escape import terminal_text


def register(app: typer.Typer) -> None:
    app.command("chaos")(chaos)


def chaos(weeks: WeeksOption = 5, seed: SeedOption = 7,
          folder: SimulationFolderOption = Path("data/chaos"),
          json_output: JsonFlag = False) -> None:
    """Run every job on schedule while the APIs fail, then reconcile everything mailops
    recorded against the sandbox's ground truth; exits 1 on any difference."""
    # Faults make runs log warnings and errors by the hundred: they go to the Prefect API and
    # are scanned for keys, but the terminal shows only the progress and the figure.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from sandbox.chaos import run_chaos

    for handler in logging.getLogger().handlers:  # the command's own stderr handler too
        handler.setLevel(logging.CRITICAL)
    with progress_bar("chaos", hidden=json_output or output.json) as on_step:
        summary = run_chaos(days=7 * weeks, seed=seed, folder=folder, on_step=on_step)

    kinds = ", ".join(f"{what} x{n}" for what, n in sorted(summary.faults.items()))
    checked = ", ".join(f"{what} {n}" for what, n in summary.checked.items())
    lines = [
        f"Chaos: {summary.days} simulated days "
        f"({summary.started:%Y-%m-%d} to {summary.ended:%Y-%m-%d}), seed {summary.seed}, "
        f"in {summary.seconds:.0f} s.",
        f"Faults injected: {kinds or 'none'}.",
        f"Runs that ended in their own one-line failure: {len(summary.failed_runs)}; "
        f"runs that raised: {len(summary.unexpected)}.",
        f"Bad-input corpus: {len(summary.corpus)} case runs, "
        f"{sum(c.handled for c in summary.corpus)} handled (a clear error or a counted skip).",
        f"Reconciled: {checked}.",
        f"Evidence:      {summary.folder}",
    ]
    lines += [f"  raised: {terminal_text(line)}" for line in summary.unexpected[:10]]
    lines += [f"  difference: {terminal_text(str(d))}" for d in summary.differences[:50]]
    if len(summary.differences) > 50:
        lines.append(f"  ...and {len(summary.differences) - 50} more in "
                     f"{summary.folder / 'chaos-summary.json'}")
    lines.append(summary.figure())
    error = None
    if summary.differences or summary.unexpected:
        error = (f"{len(summary.differences)} differences and {len(summary.unexpected)} runs "
                 "that raised; see above")
    output.finish("\n".join(lines), summary.as_json(), error=error, local_json=json_output)
