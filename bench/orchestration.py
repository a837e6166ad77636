"""Prefect's own cost: the daily-health collection as a flow and as plain function calls.

    .venv/bin/python bench/orchestration.py                        # medium, 50 ms, 3 runs each
    .venv/bin/python bench/orchestration.py --scale small --runs 2

The sandbox runs in a child process on 127.0.0.1 with `--latency-ms` on every API request
(bench/daily_health.py's child and configuration: concurrency `--concurrency` per API, no
client-side rate limit). "plain" runs the daily-health flow's steps as ordinary calls of the
tasks' own functions (`task.fn`: collect both APIs side by side, store the day, derive and
store the alerts, build the report, post to Slack), once more with the flow's two artifacts
posted to the server; "flow" runs the `daily_health` flow
itself under a temporary Prefect server (its start-up excluded): the same steps as tasks,
plus states, logs and the two artifacts. The runs alternate, `--runs` of each; medians.
Overhead = flow - plain, also as a share of plain. One JSON row; with --record a row under
its BENCHMARKS.md section.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from _common import ROOT, bench_parser, median, record

sys.path.insert(0, str(ROOT))

SECTION = "Orchestration overhead"
INTRO = """
The daily-health collection at medium scale (200 teams, 2,000 domains, 3,001 requests), 50 ms
of latency, concurrency 50 per API, no rate limit, the sandbox in a child process on the same
vCPUs. "plain s" runs the flow's steps as ordinary calls of its tasks' functions (`task.fn`:
collect both APIs, store the day, derive and store alerts, post to Slack); "flow s" runs the
`daily_health` flow under a temporary Prefect server (start-up excluded), which adds task
runs, states, logs and two artifacts; "plain + artifacts s" is plain plus posting those two
artifacts to the same server, to split the overhead. Runs alternate; medians of `runs`
each. Command: `.venv/bin/python bench/orchestration.py --record`.
"""
HEADER = ["date", "scale", "latency", "concurrency", "runs", "plain s",
          "plain + artifacts s", "flow s",
          "overhead s", "overhead %", "plain runs", "flow runs"]


async def plain(as_of: datetime, artifacts: bool = False) -> None:
    """The flow's body as plain calls of the tasks' functions (with `artifacts`, also the
    two Prefect artifacts the flow publishes, posted to the server)."""
    import tasks.health as health_tasks
    from mailops.health import CollectedDay, HealthReport
    from mailops.jsonable import to_jsonable
    from mailops.rules.shard import Shard
    from tasks.context import configured_teams, current_settings

    settings = current_settings()
    whole = Shard(1, 1)
    teams = [team.name for team in configured_teams(settings)]
    day = as_of.astimezone(settings.zone).date()
    cleanbox, emboux = await asyncio.gather(
        health_tasks.collect_cleanbox.fn(teams, as_of, whole), health_tasks.collect_emboux.fn(whole)
    )
    failures = cleanbox.failures + emboux.failures
    collected = CollectedDay(day, as_of, cleanbox.teams, emboux.domains, failures, whole)
    health_tasks.store_day.fn(collected)
    alerts = health_tasks.derive_alerts.fn(collected)
    report = HealthReport(day, as_of, cleanbox.teams, emboux.domains, alerts, failures)
    to_jsonable(report)  # what the flow's --json costs
    if artifacts:
        health_tasks.publish_artifacts.fn(report)
    health_tasks.notify.fn(report, whole)
    if failures:
        print(f"plain run: {len(failures)} failures", file=sys.stderr)


def main() -> None:
    parser = bench_parser(__doc__, concurrency=50, child=False)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from daily_health import configure  # bench/daily_health.py

    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("daily_health.py")), "--child",
         "--scale", args.scale, "--seed", str(args.seed), "--latency-ms", str(args.latency_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    plains: list[float] = []
    with_artifacts: list[float] = []
    flows: list[float] = []
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        as_of = datetime.fromisoformat(info["now"]).astimezone(UTC)
        with tempfile.TemporaryDirectory() as folder:
            configure(info, Path(folder), args.concurrency, 0.0)
            from prefect.testing.utilities import prefect_test_harness

            from flows.daily_health import daily_health
            from flows.run import run_flow

            with prefect_test_harness(server_startup_timeout=120):
                run_flow(daily_health, as_of=as_of)  # warm-up: imports, first store
                for _ in range(args.runs):
                    started = time.perf_counter()
                    asyncio.run(plain(as_of))
                    plains.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    asyncio.run(plain(as_of, artifacts=True))
                    with_artifacts.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    outcome = run_flow(daily_health, as_of=as_of)
                    flows.append(time.perf_counter() - started)
                    if not outcome.ok:
                        print(f"flow failed: {outcome.message}", file=sys.stderr)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=60)
    overhead = median(flows) - median(plains)
    row = {
        "scenario": "orchestration", "date": date.today().isoformat(), "scale": args.scale,
        "latency_ms": args.latency_ms, "concurrency": args.concurrency, "runs": args.runs,
        "plain_s": round(median(plains), 2),
        "plain_artifacts_s": round(median(with_artifacts), 2), "flow_s": round(median(flows), 2),
        "overhead_s": round(overhead, 2), "overhead_pct": round(100 * overhead / median(plains)),
        "plain_runs": [round(s, 2) for s in plains], "flow_runs": [round(s, 2) for s in flows],
    }
    print(json.dumps(row))
    if args.record:
        record(SECTION, INTRO, HEADER, [
            row["date"], args.scale, f"{args.latency_ms:g} ms", args.concurrency, args.runs,
            row["plain_s"], row["plain_artifacts_s"], row["flow_s"], f"**{row['overhead_s']}**",
            f"**{row['overhead_pct']} %**", ", ".join(map(str, row["plain_runs"])),
            ", ".join(map(str, row["flow_runs"])),
        ])


if __name__ == "__main__":
    main()
