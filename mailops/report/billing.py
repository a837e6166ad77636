"""The billing export of one month: a row per domain, a total per partner, and a grand total.

Overage is billed only for soft-enforced domains (docs/emboux-api.md#enforcement-and-billing:
a soft monthly limit allows the send and bills it; a hard one refuses it). CSV goes through
`escape.csv_text`, which guards every cell against formula injection (partner references and
domain names come from the API, not from us).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailops.report.escape import csv_text
from mailops.rules.resets import overage
from mailops.store.billing import BillingRow

FORMATS: tuple[str, ...] = ("csv", "json", "parquet")

COLUMNS: tuple[str, ...] = (
    "row_type",
    "period",
    "partner_ref",
    "domain",
    "domains",
    "outbound_sent_month",
    "outbound_monthly_limit",
    "outbound_enforcement",
    "overage",
    "bounce_count",
    "complaint_count",
    "bounce_rate",
    "complaint_rate",
    "source",
)


def _percent(count: int, sent: int) -> float:
    """A percentage of the sends, rounded to 4 decimals like EmBoux's own rates."""
    return round(count * 100 / sent, 4) if sent > 0 else 0.0


@dataclass(frozen=True)
class BillingExport:
    """The export of one period, ready to render in any format."""

    period: str
    domains: list[dict[str, Any]]
    partners: list[dict[str, Any]]
    total: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        """Every row in table order: domains by partner, each partner's total, the grand total."""
        ordered: list[dict[str, Any]] = []
        for partner in self.partners:
            ordered += [d for d in self.domains if d["partner_ref"] == partner["partner_ref"]]
            ordered.append(partner)
        ordered.append(self.total)
        return ordered


def _total(
    row_type: str, period: str, partner_ref: str | None, members: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    sent = sum(m["outbound_sent_month"] for m in members)
    bounces = sum(m["bounce_count"] for m in members)
    complaints = sum(m["complaint_count"] for m in members)
    sources = sorted({m["source"] for m in members})
    return {
        "row_type": row_type,
        "period": period,
        "partner_ref": partner_ref,
        "domain": None,
        "domains": len(members),
        "outbound_sent_month": sent,
        "outbound_monthly_limit": None,
        "outbound_enforcement": None,
        "overage": sum(m["overage"] for m in members),
        "bounce_count": bounces,
        "complaint_count": complaints,
        "bounce_rate": _percent(bounces, sent),
        "complaint_rate": _percent(complaints, sent),
        "source": "+".join(sources) if sources else None,
    }


def build_export(period: str, rows: Sequence[BillingRow]) -> BillingExport:
    """One row per domain with its billed overage, a total per partner_ref, a grand total."""
    domains = [
        {
            "row_type": "domain",
            "period": period,
            "partner_ref": row.partner_ref,
            "domain": row.domain,
            "domains": 1,
            "outbound_sent_month": row.outbound_sent_month,
            "outbound_monthly_limit": row.outbound_monthly_limit,
            "outbound_enforcement": row.outbound_enforcement,
            "overage": overage(
                row.outbound_sent_month, row.outbound_monthly_limit, row.outbound_enforcement
            ),
            "bounce_count": row.bounce_count,
            "complaint_count": row.complaint_count,
            "bounce_rate": row.bounce_rate,
            "complaint_rate": row.complaint_rate,
            "source": row.source,
        }
        for row in sorted(rows, key=lambda r: (r.partner_ref or "", r.domain))
    ]
    refs = sorted({d["partner_ref"] for d in domains}, key=lambda ref: ref or "")
    partners = [
        _total("partner_total", period, ref, [d for d in domains if d["partner_ref"] == ref])
        for ref in refs
    ]
    return BillingExport(period, domains, partners, _total("total", period, None, domains))


def render_csv(export: BillingExport) -> str:
    """CSV with a header; every text cell guarded against spreadsheet formulas (csv_text)."""
    return csv_text(COLUMNS, ([row[c] for c in COLUMNS] for row in export.rows()))


def render_json(export: BillingExport) -> str:
    """One JSON object: the period, its domain rows, the partner totals and the grand total."""
    body = {
        "period": export.period,
        "domains": export.domains,
        "partners": export.partners,
        "total": export.total,
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def write_parquet(export: BillingExport, path: Path) -> None:
    """The CSV's table as Parquet (pandas with pyarrow), with typed columns."""
    import pandas as pd

    frame = pd.DataFrame(export.rows(), columns=list(COLUMNS))
    for column in ("domains", "outbound_sent_month", "overage", "bounce_count",
                   "complaint_count", "outbound_monthly_limit"):
        frame[column] = frame[column].astype("Int64")
    frame.to_parquet(path, index=False)


def write_export(export: BillingExport, fmt: str, path: Path) -> None:
    """Write the export to `path` in `fmt` (csv, json or parquet)."""
    if fmt == "parquet":
        write_parquet(export, path)
        return
    text = render_csv(export) if fmt == "csv" else render_json(export)
    path.write_text(text, encoding="utf-8", newline="")
