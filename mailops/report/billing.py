"""The billing export of one month: a row per domain, a total per partner, and a grand total.

Overage is billed only for soft-enforced domains (docs/emboux-api.md#enforcement-and-billing:
a soft monthly limit allows the send and bills it; a hard one refuses it). CSV goes through
`escape.csv_text`, which guards every cell against formula injection (partner references and
domain names come from the API, not from us).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from mailops.jsonable import to_jsonable
from mailops.report.escape import csv_text
from mailops.rules.resets import overage
from mailops.store.billing import BillingRow

FORMATS: tuple[str, ...] = ("csv", "json", "parquet")


@dataclass(frozen=True)
class BillingLine:
    """One line of the export (`row_type`): a domain, a partner's total or the grand total.
    A total has no domain, limit or enforcement; its source joins its domains' sources."""

    row_type: str
    period: str
    partner_ref: str | None
    domain: str | None
    domains: int
    outbound_sent_month: int
    outbound_monthly_limit: int | None
    outbound_enforcement: str | None
    overage: int
    bounce_count: int
    complaint_count: int
    bounce_rate: float
    complaint_rate: float
    source: str | None


COLUMNS: tuple[str, ...] = tuple(spec.name for spec in fields(BillingLine))


def _percent(count: int, sent: int) -> float:
    """A percentage of the sends, rounded to 4 decimals like EmBoux's own rates."""
    return round(count * 100 / sent, 4) if sent > 0 else 0.0


@dataclass(frozen=True)
class BillingExport:
    """The export of one period, ready to render in any format (JSON: `to_jsonable`)."""

    period: str
    domains: list[BillingLine]
    partners: list[BillingLine]
    total: BillingLine

    def rows(self) -> list[BillingLine]:
        """Every row in table order: domains by partner, each partner's total, the grand total."""
        ordered: list[BillingLine] = []
        for partner in self.partners:
            ordered += [d for d in self.domains if d.partner_ref == partner.partner_ref]
            ordered.append(partner)
        ordered.append(self.total)
        return ordered


def _total(
    row_type: str, period: str, partner_ref: str | None, members: Sequence[BillingLine]
) -> BillingLine:
    sent = sum(m.outbound_sent_month for m in members)
    bounces = sum(m.bounce_count for m in members)
    complaints = sum(m.complaint_count for m in members)
    sources = sorted({m.source for m in members if m.source is not None})
    return BillingLine(
        row_type, period, partner_ref, None, len(members), sent, None, None,
        sum(m.overage for m in members), bounces, complaints, _percent(bounces, sent),
        _percent(complaints, sent), "+".join(sources) if sources else None,
    )


def build_export(period: str, rows: Sequence[BillingRow]) -> BillingExport:
    """One row per domain with its billed overage, a total per partner_ref, a grand total."""
    domains = [
        BillingLine(
            "domain", period, row.partner_ref, row.domain, 1, row.outbound_sent_month,
            row.outbound_monthly_limit, row.outbound_enforcement,
            overage(row.outbound_sent_month, row.outbound_monthly_limit,
                    row.outbound_enforcement),
            row.bounce_count, row.complaint_count, row.bounce_rate, row.complaint_rate,
            row.source,
        )
        for row in sorted(rows, key=lambda r: (r.partner_ref or "", r.domain))
    ]
    refs = sorted({d.partner_ref for d in domains}, key=lambda ref: ref or "")
    partners = [
        _total("partner_total", period, ref, [d for d in domains if d.partner_ref == ref])
        for ref in refs
    ]
    return BillingExport(period, domains, partners, _total("total", period, None, domains))


def render_csv(export: BillingExport) -> str:
    """CSV with a header; every text cell guarded against spreadsheet formulas (csv_text)."""
    return csv_text(COLUMNS, ([getattr(row, c) for c in COLUMNS] for row in export.rows()))


def render_json(export: BillingExport) -> str:
    """One JSON object: the period, its domain rows, the partner totals and the grand total."""
    return json.dumps(to_jsonable(export), indent=2, sort_keys=True) + "\n"


def write_parquet(export: BillingExport, path: Path) -> None:
    """The CSV's table as Parquet (pandas with pyarrow), with typed columns."""
    import pandas as pd

    frame = pd.DataFrame(to_jsonable(export.rows()), columns=list(COLUMNS))
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
