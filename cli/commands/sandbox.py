"""`mailops sandbox`: the local simulators of Cleanbox, EmBoux and a Slack webhook (the
`sandbox` package, outside the library), served on 127.0.0.1 until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import EXIT_CONFIG, output


def register(app: typer.Typer) -> None:
    app.command("sandbox")(serve_sandbox)


def serve_sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8750,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 7,
    scale: Annotated[
        str, typer.Option(help="small (demo), medium (200 teams) or large (1,000 teams).")
    ] = "small",
) -> None:
    """Start the local simulators of Cleanbox, EmBoux and a Slack webhook."""
    from sandbox.server import serve
    from sandbox.world import SCALES

    if scale not in SCALES:
        output.fail(f"--scale must be one of {', '.join(SCALES)}, not {scale!r}", EXIT_CONFIG)
    serve(port=port, seed=seed, scale=scale)
