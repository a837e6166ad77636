"""`mailops billing export`: the billed month as CSV, JSON or Parquet, from the store.

No Prefect here: the export only reads the billing rows that billing-freeze stored.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.app import EXIT_CONFIG, EXIT_FAILED, JsonFlag, output
from cli.commands import add_group
from mailops.report.billing import FORMATS, build_export, render_csv, render_json, write_export
from mailops.rules.resets import parse_period
from mailops.settings import load_settings
from mailops.store import Store


def register(app: typer.Typer) -> None:
    add_group(app, "billing", "Billing data frozen by the monthly freeze.",
              {"export": export})


def export(
    period: Annotated[str, typer.Option("--period", help="The billed month YYYY-MM.")],
    fmt: Annotated[
        str, typer.Option("--format", help="csv, json or parquet.")
    ] = "csv",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file (default: print; parquet needs a file)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Export one month's billing: a row per domain, overage, a total per partner_ref."""
    output.json = output.json or json_output  # failures too are one JSON object
    try:
        period = parse_period(period)
    except ValueError as exc:
        output.fail(f"--period: {exc}", EXIT_CONFIG)
    if fmt not in FORMATS:
        output.fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", EXIT_CONFIG)
    if fmt == "parquet" and out is None:
        output.fail("--format parquet writes a binary file: give --out FILE", EXIT_CONFIG)
    settings = load_settings()
    with Store(settings.database_url) as store:
        store.upgrade()
        rows = store.billing.rows(period)
        billed = store.billing.periods() if not rows else []
    if not rows:
        known = f" (billed: {', '.join(billed[:6])})" if billed else ""
        output.fail(
            f"no billing rows for {period}{known}; run `mailops outbound freeze-month` first",
            EXIT_FAILED,
        )
    result = build_export(period, rows)
    if out is None:
        sys.stdout.write(render_csv(result) if fmt == "csv" else render_json(result))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_export(result, fmt, out)
    except OSError as exc:
        output.fail(f"cannot write {out}: {exc.strerror}", EXIT_FAILED)
    total = result.total
    output.emit(
        f"Wrote the billing of {period} to {out} ({fmt}): {total.domains} domains, "
        f"{len(result.partners)} partners, {total.outbound_sent_month} sends, "
        f"{total.overage} billed overage.",
        {
            "period": period, "format": fmt, "out": str(out), "domains": total.domains,
            "partners": len(result.partners), "sent": total.outbound_sent_month,
            "overage": total.overage,
        },
        local_json=json_output,
    )
