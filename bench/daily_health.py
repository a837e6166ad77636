"""daily-health collection at scale, against its lower bound and the sample script's way.

    .venv/bin/python bench/daily_health.py                       # medium, 50 ms, concurrency 50
    .venv/bin/python bench/daily_health.py --concurrency 10 --rate 0 --latency-ms 50

The sandbox runs in a child process on 127.0.0.1 with `--latency-ms` added to every API
request. Three figures:
  1. mailops's collection (the library calls the flow's tasks make), wall time;
  2. the lower bound the limits allow: per API max(requests x latency / concurrency,
     requests / rate), the two APIs running side by side;
  3. the way of Cleanbox's monitoring guide (docs/cleanbox-api.md#monitoring-guide: one
     request after another, per team and per domain) on a sample of teams and domains,
     scaled to the whole set;
plus the whole flow under a temporary Prefect server (tasks, store, alerts, Slack), to show
what Prefect and the store add beside the collection. One row is appended to BENCHMARKS.md
with --record.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import bench_parser  # noqa: E402 (bench/ is the script's folder)


def child(scale: str, seed: int, latency_ms: float) -> None:
    """Serve a sandbox with latency on every API request; print its keys; stop at stdin EOF."""
    from sandbox.server import Sandbox

    with Sandbox.start(seed=seed, scale=scale) as sb:
        if latency_ms:
            sb.inject_fault("* /**", "latency", latency_ms=latency_ms)
        print(json.dumps({
            "cleanbox_url": sb.cleanbox_url, "emboux_url": sb.emboux_url,
            "team_keys": sb.team_keys, "master_token": sb.master_token,
            "now": sb.now().isoformat(), "slack": sb.slack_webhook_url,
        }), flush=True)
        sys.stdin.read()


def configure(info: dict[str, Any], workdir: Path, concurrency: int, rate: float) -> None:
    """Point mailops at the sandbox through its ordinary configuration."""
    lines = []
    for number, (name, key) in enumerate(info["team_keys"].items()):
        os.environ[f"BENCH_TEAM_{number}"] = key
        lines += ["[[teams]]", f"name = {json.dumps(name)}", f'api_key_env = "BENCH_TEAM_{number}"']
    (workdir / "mailops.toml").write_text("\n".join(lines) + "\n")
    os.environ.update({
        "MAILOPS_CONFIG": str(workdir / "mailops.toml"),
        "MAILOPS_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "MAILOPS_DATA_DIR": str(workdir / "data"),
        "MAILOPS_CLEANBOX_BASE_URL": info["cleanbox_url"],
        "MAILOPS_EMBOUX_BASE_URL": info["emboux_url"],
        "MAILOPS_EMBOUX_API_KEY": info["master_token"],
        "MAILOPS_SLACK_WEBHOOK_URL": info["slack"],
        "MAILOPS_CLEANBOX_LIMITS__CONCURRENCY": str(concurrency),
        "MAILOPS_EMBOUX_LIMITS__CONCURRENCY": str(concurrency),
        "MAILOPS_CLEANBOX_LIMITS__RATE_LIMIT_PER_SECOND": str(rate),
        "MAILOPS_EMBOUX_LIMITS__RATE_LIMIT_PER_SECOND": str(rate),
    })


async def mailops_collection(as_of: datetime) -> tuple[float, int, int, int, int]:
    """The flow's two collection tasks' library calls, side by side, as the flow runs them."""
    from mailops.cleanbox import CleanboxClient
    from mailops.emboux import EmbouxClient
    from mailops.health import collect_domains, collect_teams
    from mailops.settings import cleanbox_teams, load_settings

    settings = load_settings()
    teams = cleanbox_teams(settings)
    async with CleanboxClient.from_settings(settings) as cb, EmbouxClient.from_settings(
        settings
    ) as em:
        started = time.perf_counter()
        cleanbox, emboux = await asyncio.gather(
            collect_teams(cb, teams, as_of, settings.alerts.top_senders), collect_domains(em)
        )
        elapsed = time.perf_counter() - started
    failures = len(cleanbox.failures) + len(emboux.failures)
    # Requests made: 5 per team (team, quarantine, failed, denied counts with `total`, top
    # senders), 1 domain list, 1 per domain.
    return elapsed, len(cleanbox.teams), len(emboux.domains), failures, 5 * len(teams)


def seed_script_way(info: dict[str, Any], as_of: datetime, teams: int, domains: int) -> float:
    """The monitoring guide's access pattern (docs/cleanbox-api.md#monitoring-guide): one
    blocking request after another."""
    import httpx

    since = (as_of.timestamp() - 86400)
    started = time.perf_counter()
    with httpx.Client(timeout=30, trust_env=False) as client:
        for key in list(info["team_keys"].values())[:teams]:
            headers = {"Authorization": f"Bearer {key}"}
            base = info["cleanbox_url"]
            client.get(f"{base}/team", headers=headers)
            client.get(f"{base}/quarantine", params={"per_page": 1}, headers=headers)
            for status in ("failed", "denied"):
                client.get(f"{base}/messages", headers=headers, params={
                    "status": status, "per_page": 1,
                    "since": datetime.fromtimestamp(since).astimezone().isoformat()})
            client.get(f"{base}/contacts", headers=headers,
                       params={"sort": "emailCount", "dir": "desc", "per_page": 5})
        master = {"Authorization": f"Bearer {info['master_token']}"}
        names = [d["name"] for d in client.get(f"{info['emboux_url']}/domains",
                                                headers=master).json()]
        for name in names[:domains]:
            client.get(f"{info['emboux_url']}/domains/{name}/outbound", headers=master)
    return time.perf_counter() - started


def whole_flow(as_of: datetime) -> float:
    """daily-health under a temporary Prefect server, server start excluded."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.daily_health import daily_health
    from flows.run import run_flow

    with prefect_test_harness(server_startup_timeout=120):
        started = time.perf_counter()
        outcome = run_flow(daily_health, as_of=as_of)
        elapsed = time.perf_counter() - started
    if not outcome.ok:
        print(f"flow failed: {outcome.message}", file=sys.stderr)
    return elapsed


def main() -> None:
    parser = bench_parser(__doc__, concurrency=50)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s per API; 0 = none")
    parser.add_argument("--sample", type=float, default=0.1,
                        help="share of teams and domains the seed-script way is timed on")
    parser.add_argument("--no-flow", action="store_true", help="skip the whole-flow run")
    args = parser.parse_args()
    if args.child:
        child(args.scale, args.seed, args.latency_ms)
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--child", "--scale", args.scale, "--seed", str(args.seed),
         "--latency-ms", str(args.latency_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        as_of = datetime.fromisoformat(info["now"])
        with tempfile.TemporaryDirectory() as folder:
            configure(info, Path(folder), args.concurrency, args.rate)
            elapsed, teams, domains, failures, cleanbox_requests = asyncio.run(
                mailops_collection(as_of)
            )
            emboux_requests = domains + 1
            latency = args.latency_ms / 1000
            bounds = []
            for requests in (cleanbox_requests, emboux_requests):
                by_latency = requests * latency / args.concurrency
                by_rate = requests / args.rate if args.rate else 0.0
                bounds.append(max(by_latency, by_rate))
            bound = max(bounds)
            sample_teams = max(1, round(teams * args.sample))
            sample_domains = max(1, round(domains * args.sample))
            sampled = seed_script_way(info, as_of, sample_teams, sample_domains)
            baseline = sampled / args.sample
            flow_time = None if args.no_flow else whole_flow(as_of)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)

    row = {
        "date": date.today().isoformat(), "scale": args.scale, "teams": teams,
        "domains": domains, "failures": failures, "latency_ms": args.latency_ms,
        "concurrency": args.concurrency, "rate": args.rate or "none",
        "requests": cleanbox_requests + emboux_requests, "mailops_s": round(elapsed, 2),
        "bound_s": round(bound, 2), "ratio": round(elapsed / bound, 2) if bound else None,
        "seed_way_s": round(baseline, 1), "speedup": round(baseline / elapsed, 1),
        "flow_s": round(flow_time, 2) if flow_time is not None else None,
    }
    print(json.dumps(row))
    if args.record:
        from _common import record

        record("daily-health collection", "", [], [
            row["date"], f"{args.scale} ({teams} teams, {domains} domains)",
            f"{args.latency_ms:g} ms", args.concurrency, row["rate"], row["requests"],
            f"**{row['mailops_s']}**", row["bound_s"], row["ratio"],
            f"{row['seed_way_s']} (sampled {args.sample:.0%})", f"{row['speedup']}x",
            row["flow_s"],
        ])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}")


if __name__ == "__main__":
    main()
