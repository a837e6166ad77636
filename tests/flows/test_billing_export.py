"""`mailops billing export`: a row per domain, partner totals, overage, safe CSV, three formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailops.rules.resets import previous_period
from mailops.store import BillingRow, Store

PERIOD = "2026-10"


def row(domain: str, partner: str, sent: int, limit: int, enforcement: str | None) -> BillingRow:
    return BillingRow(domain, partner, sent, limit, enforcement, 3, 1, 0.25, 0.0833)


def freeze(store: Store, period: str, rows: list[BillingRow]) -> None:
    """Store a period's billing rows the way billing-freeze does (claim, then rows + done)."""
    store.ledger.claim("billing-freeze", period, "run-1")
    store.billing.complete_freeze("billing-freeze", period, "run-1", rows, "test rows")


@pytest.fixture
def billed_store(any_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store (SQLite, then PostgreSQL) with October billed for two partners; the CLI points
    at it."""
    monkeypatch.setenv("MAILOPS_DATABASE_URL", any_store.url)
    freeze(any_store, PERIOD, [
        row("a1.com", "p-a", 1_200, 1_000, "soft"),  # 200 over a soft limit: billed
        row("a2.com", "p-a", 1_500, 1_000, "hard"),  # hard: refused above, never billed
        row("a3.com", "p-a", 5_000, 0, "soft"),  # 0 = unlimited
        row("b1.com", "p-b", 150, 100, "soft"),  # 50 over
    ])
    return any_store


def test_the_export_totals_each_partner_and_bills_overage_only_above_soft_limits(
    billed_store, cli
):
    # When the month is exported as JSON to standard output
    result = CliRunner().invoke(cli, ["billing", "export", "--period", PERIOD, "--format", "json"])
    # Then each domain carries its overage, and each partner its totals
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    overage = {d["domain"]: d["overage"] for d in body["domains"]}
    assert overage == {"a1.com": 200, "a2.com": 0, "a3.com": 0, "b1.com": 50}
    partners = {p["partner_ref"]: p for p in body["partners"]}
    assert partners["p-a"]["outbound_sent_month"] == 7_700
    assert partners["p-a"]["overage"] == 200 and partners["p-a"]["domains"] == 3
    assert partners["p-a"]["bounce_count"] == 9
    assert partners["p-a"]["bounce_rate"] == round(9 * 100 / 7_700, 4)
    assert partners["p-b"]["outbound_sent_month"] == 150 and partners["p-b"]["overage"] == 50
    assert body["total"]["outbound_sent_month"] == 7_850 and body["total"]["overage"] == 250


def test_csv_cells_that_could_run_as_formulas_are_neutralised(any_store, monkeypatch, cli):
    # Given partner and domain texts that a spreadsheet would run as formulas
    monkeypatch.setenv("MAILOPS_DATABASE_URL", any_store.url)
    freeze(any_store, PERIOD, [
        row("+evil.com", '=HYPERLINK("http://x.test","pay")', 10, 0, "hard"),
        row("-minus.com", "@partner", 20, 0, "hard"),
        row("plain.com", "p-plain", 30, 0, "hard"),
    ])
    # When the month is exported as CSV
    result = CliRunner().invoke(cli, ["billing", "export", "--period", PERIOD])
    # Then every such cell starts with a quote, and the numbers are untouched
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    texts = {cell for r in table for cell in (r["domain"], r["partner_ref"]) if cell}
    assert "'+evil.com" in texts and "'-minus.com" in texts and "'@partner" in texts
    assert "'=HYPERLINK(\"http://x.test\",\"pay\")" in texts
    assert not any(cell[0] in "=+-@" for cell in texts)
    assert [r["row_type"] for r in table].count("domain") == 3
    assert [r["row_type"] for r in table].count("partner_total") == 3
    assert table[-1]["row_type"] == "total" and table[-1]["outbound_sent_month"] == "60"


def test_parquet_and_csv_files_hold_the_same_table(billed_store, tmp_path, cli):
    import pandas as pd

    # When the month is written as Parquet and as CSV
    parquet = tmp_path / "out" / "billing.parquet"
    as_csv = tmp_path / "out" / "billing.csv"
    first = CliRunner().invoke(
        cli, ["billing", "export", "--period", PERIOD, "--format", "parquet", "--out", str(parquet)]
    )
    second = CliRunner().invoke(
        cli, ["billing", "export", "--period", PERIOD, "--out", str(as_csv), "--json"]
    )
    # Then both hold 4 domains, 2 partner totals and a grand total, with the same numbers
    assert first.exit_code == 0, first.output
    assert "4 domains, 2 partners, 7850 sends, 250 billed overage" in first.stdout
    assert json.loads(second.stdout)["overage"] == 250
    frame = pd.read_parquet(parquet)
    text = pd.read_csv(as_csv)
    assert list(frame["row_type"]) == list(text["row_type"])
    assert list(frame["overage"]) == list(text["overage"]) == [200, 0, 0, 200, 50, 50, 250]
    assert str(frame["outbound_sent_month"].dtype) == "Int64"


def test_a_month_without_billing_rows_is_a_clear_error(billed_store, cli):
    result = CliRunner().invoke(cli, ["billing", "export", "--period", "2026-09"])
    assert result.exit_code == 1
    assert "no billing rows for 2026-09 (billed: 2026-10)" in result.output
    assert "freeze-month" in result.output
    unknown = CliRunner().invoke(cli, ["billing", "export", "--period", PERIOD, "--format", "xml"])
    assert unknown.exit_code == 2 and "csv, json, parquet" in unknown.output
    to_screen = CliRunner().invoke(
        cli, ["billing", "export", "--period", PERIOD, "--format", "parquet"]
    )
    assert to_screen.exit_code == 2 and "--out" in to_screen.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_domain_added_mid_month_is_billed_for_its_part_of_the_month(
    resets_env, tmp_path: Path, cli
):
    # Given a month in which a soft-limited domain joins on day 12 and sends 130 of its 100
    sb = resets_env.sandbox
    sim = sb.world.emboux
    sb.advance(days=11)
    partner = next(iter(sb.customer_tokens))
    sim.add_domain("latecomer.example", partner, monthly_limit=100, enforcement="soft",
                   warmup_started=date(2025, 1, 1))
    for number in range(130):
        assert sim.increment("latecomer.example", f"r{number}@example.net")["allowed"]
    sb.advance(days=5)
    before = resets_env.counters()
    # When the month is frozen and exported
    from flows.billing_freeze import billing_freeze
    from flows.run import run_flow

    assert run_flow(billing_freeze).ok
    period = previous_period(datetime.now(UTC))
    out = tmp_path / "billing.csv"
    result = CliRunner().invoke(cli, ["billing", "export", "--period", period, "--out", str(out)])
    # Then the newcomer has its own row with its 30 billed over the limit
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(out.open()))
    late = next(r for r in table if r["domain"] == "latecomer.example")
    assert (late["outbound_sent_month"], late["overage"]) == ("130", "30")
    # And its partner's total includes it, matching the sandbox's counters before the reset
    totals = {r["partner_ref"]: r for r in table if r["row_type"] == "partner_total"}
    total = totals[partner]
    expected = sum(d["outbound_sent_month"] for d in before.values() if d["partner_ref"] == partner)
    assert int(total["outbound_sent_month"]) == expected
    assert len([r for r in table if r["row_type"] == "domain"]) == len(before) == 51


def test_csv_cells_that_hide_a_formula_behind_blanks_controls_or_a_pipe_are_guarded(
    any_store, monkeypatch, cli
):
    # Given the cells issue 19 saw written unguarded: a formula behind a space, a newline or a
    # tab, a DDE pipe, and a NUL
    monkeypatch.setenv("MAILOPS_DATABASE_URL", any_store.url)
    hostile = (' =HYPERLINK("http://x.test","pay")', "\n=1+1", "\t=", "|cmd '/C calc'!A0")
    freeze(any_store, PERIOD, [
        row(f"d{n}.example", partner, 10, 0, "hard") for n, partner in enumerate(hostile)
    ])
    # When the month is exported as CSV
    result = CliRunner().invoke(cli, ["billing", "export", "--period", PERIOD])
    # Then each of them is read back as the same text behind a single quote
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    refs = {r["partner_ref"] for r in table if r["row_type"] == "domain"}
    assert refs == {"'" + partner for partner in hostile}
    # And the numbers stay numbers
    assert table[-1]["outbound_sent_month"] == "40"


def test_a_nul_never_reaches_the_csv():
    from mailops.report.billing import build_export, render_csv

    # Given a billing row whose partner and domain carry a NUL (as no store keeps them)
    rows = [row("nul\x00byte.example", "\x00=1+1", 10, 0, "hard")]
    # When it is rendered as CSV
    text = render_csv(build_export(PERIOD, rows))
    # Then no NUL is written, and the formula behind it does not start a cell
    assert "\x00" not in text
    cells = [cell for r in csv.reader(io.StringIO(text)) for cell in r]
    assert "nul\ufffdbyte.example" in cells
    assert not any(cell.lstrip()[:1] in ("=", "+", "-", "@", "|") for cell in cells)


def test_a_failure_naming_a_strangers_text_shows_its_bidi_control_on_the_terminal(
    billed_store, tmp_path, cli
):
    # Given an output path whose name carries a right-to-left override, and is a folder
    out = tmp_path / "billing\u202evsc.exe"
    out.mkdir()
    # When the month is exported to it
    result = CliRunner().invoke(cli, ["billing", "export", "--period", PERIOD, "--out", str(out)])
    # Then the one-line error names it with the override shown as its marker
    assert result.exit_code == 1
    assert "\u202e" not in result.output
    assert "billing<U+202E>vsc.exe: Is a directory" in result.output
