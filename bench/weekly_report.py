"""weekly-report over a year of daily rows: the report's computation time and peak memory.

    .venv/bin/python bench/weekly_report.py                         # 5,000 domains x 365 days
    .venv/bin/python bench/weekly_report.py --domains 500 --days 120 --runs 1

A child process writes `--domains` x `--days` domain_daily rows (about 1.8M by default) and
`--teams` x `--days` team_daily rows into a fresh SQLite store (schema by `Store.upgrade`,
rows by sqlite3 `executemany`), with trends, noise and a few domains heading for their
daily limit, ending on a Sunday. This process then computes the weekly report of that last
week the way the flow's `compute_report` task does: `store.trends.report_frames` for the weeks the
settings need (`[report]` history_weeks, default 8) and `build_report` (week over week,
drifts, forecasts, movers); `--runs` times, medians. With `--history-weeks 52` it loads the
whole year. Peak memory is this process's `ru_maxrss` (the writer's is not counted), and its
baseline after the imports. One JSON row; with --record a row under its BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import ROOT, bench_parser, median, peak_mb, record

sys.path.insert(0, str(ROOT))

SECTION = "weekly-report"
INTRO = """
The weekly report of the last week of a SQLite store holding a year of daily rows (`domains`
x 365 domain_daily rows, 200 teams x 365 team_daily rows), computed as the flow's
`compute_report` task does: `store.trends.report_frames` (one query per table for the weeks the
settings need) then `build_report` (week over week, drifts, forecasts, top movers), no
rendering. "history" is `[report] history_weeks` (8 is the default; 52 loads the whole year).
Seconds are medians of `runs`; "peak MB" is the computing process's `ru_maxrss` (the rows are
written by a child process, so its memory is not counted), "baseline MB" the same after the
imports. Command: `.venv/bin/python bench/weekly_report.py --record`.
"""
HEADER = ["date", "domain rows", "team rows", "history weeks", "rows loaded", "runs",
          "write s", "load s", "compute s", "report s", "baseline MB", "peak MB", "forecasts"]

LAST_DAY = date(2026, 11, 22)  # a Sunday
DOMAIN_COLUMNS = (
    "day, domain, partner_ref, outbound_tier, outbound_status, outbound_daily_limit, "
    "outbound_monthly_limit, outbound_sent_today, outbound_sent_month, outbound_enforcement, "
    "bounce_count, complaint_count, bounce_rate, complaint_rate, ses_verified, "
    "warmup_profile, spike_max_multiplier, collected_at"
)
TEAM_COLUMNS = (
    "day, team, weekly_used, weekly_limit, usage_pct, aliases_used, aliases_limit, "
    "mailboxes_used, mailboxes_limit, quarantine_backlog, failed_24h, denied_24h, collected_at"
)


def domain_rows(domains: int, teams: int, days: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """A year of one row per domain and day: a base volume, a trend, weekly noise."""
    rng = random.Random(seed)
    first = LAST_DAY - timedelta(days=days - 1)
    profiles = [(rng.randint(50, 5000), rng.uniform(-0.002, 0.004), rng.random() < 0.02)
                for _ in range(domains)]
    for offset in range(days):
        day = first + timedelta(days=offset)
        text = day.isoformat()
        collected = f"{text} 08:00:00.000000"
        for number, (base, trend, hot) in enumerate(profiles):
            limit = 10_000
            sent = max(0, int(base * (1 + trend * offset) * rng.uniform(0.8, 1.2)))
            if hot:
                sent = min(limit, int(limit * 0.5 + offset * limit * 0.4 / days))
            bounces = int(sent * rng.uniform(0.0, 0.03))
            yield (text, f"d{number}.example.com", f"team-{number % teams}", "standard",
                   "active", limit, 250_000, sent, sent * day.day, "hard", bounces,
                   sent // 2000, bounces / sent if sent else 0.0, 0.0005, 1, "none", 3.0,
                   collected)


def team_rows(teams: int, days: int, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed + 1)
    first = LAST_DAY - timedelta(days=days - 1)
    for offset in range(days):
        text = (first + timedelta(days=offset)).isoformat()
        for number in range(teams):
            used = rng.randint(1000, 9000)
            yield (text, f"team-{number}", used, 10_000, used / 100, 5, 50, 3, 20,
                   rng.randint(0, 400), rng.randint(0, 20), rng.randint(0, 20),
                   f"{text} 08:00:00.000000")


def write(path: Path, domains: int, teams: int, days: int, seed: int) -> None:
    """Create the store and write the rows (the child's job)."""
    from mailops.store import Store

    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        connection.executemany(
            f"INSERT INTO domain_daily ({DOMAIN_COLUMNS}) VALUES ({', '.join('?' * 18)})",
            domain_rows(domains, teams, days, seed))
        connection.executemany(
            f"INSERT INTO team_daily ({TEAM_COLUMNS}) VALUES ({', '.join('?' * 13)})",
            team_rows(teams, days, seed))
    connection.close()


def report_once(path: Path, history_weeks: int) -> dict[str, Any]:
    """`compute_report`'s library calls for the store's last week; seconds and sizes."""
    from mailops.report.weekly import build_report, parse_week, week_name
    from mailops.settings import ReportSettings
    from mailops.store import Store

    options = ReportSettings(history_weeks=history_weeks)
    week = week_name(LAST_DAY)
    monday, sunday = parse_week(week)
    first_day = min(
        monday - timedelta(weeks=options.history_weeks - 1),
        monday - timedelta(weeks=options.forecast_weeks - 1),
        sunday - timedelta(days=options.forecast_days - 1),
    )
    since = datetime.combine(monday, datetime.min.time()).astimezone()
    until = datetime.combine(sunday + timedelta(days=1), datetime.min.time()).astimezone()
    with Store(f"sqlite:///{path}") as store:
        started = time.perf_counter()
        frames = store.trends.report_frames(first_day, monday, sunday, since, until)
        loaded = time.perf_counter()
        report = build_report(week, frames.teams, frames.domains, frames.alerts, frames.audit,
                              options)
        finished = time.perf_counter()
    return {"load_s": loaded - started, "compute_s": finished - loaded,
            "report_s": finished - started, "rows": len(frames.teams) + len(frames.domains),
            "forecasts": len(report.forecasts), "changes": len(report.changes),
            "drifts": len(report.drifts)}


def main() -> None:
    parser = bench_parser(__doc__, latency=False, child=False)
    parser.add_argument("--domains", type=int, default=5_000)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--history-weeks", type=int, default=8)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write(args.write, args.domains, args.teams, args.days, args.seed)
        return

    import mailops.report.weekly  # imported before the baseline
    import mailops.store  # noqa: F401

    baseline = peak_mb()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.db"
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write", str(path), "--domains",
                        str(args.domains), "--teams", str(args.teams), "--days", str(args.days),
                        "--seed", str(args.seed)], check=True, timeout=900)
        written = time.perf_counter() - started
        runs = [report_once(path, args.history_weeks) for _ in range(args.runs)]
    row = {
        "scenario": "weekly_report", "date": date.today().isoformat(),
        "domain_rows": args.domains * args.days, "team_rows": args.teams * args.days,
        "history_weeks": args.history_weeks, "rows_loaded": runs[0]["rows"], "runs": args.runs,
        "write_s": round(written, 1),
        **{key: round(median([r[key] for r in runs]), 2)
           for key in ("load_s", "compute_s", "report_s")},
        "baseline_mb": round(baseline), "peak_mb": round(peak_mb()),
        "forecasts": runs[0]["forecasts"], "changes": runs[0]["changes"],
        "drifts": runs[0]["drifts"],
    }
    print(json.dumps(row))
    if args.record:
        record(SECTION, INTRO, HEADER, [
            row["date"], f"{row['domain_rows']:,}", f"{row['team_rows']:,}",
            args.history_weeks, f"{row['rows_loaded']:,}", args.runs, row["write_s"],
            row["load_s"], row["compute_s"], f"**{row['report_s']}**", row["baseline_mb"],
            f"**{row['peak_mb']}**", row["forecasts"],
        ])


if __name__ == "__main__":
    main()
