"""daily-health collection at scale, against its lower bound and the sample script's way.

    .venv/bin/python bench/daily_health.py                       # medium, 50 ms, concurrency 50
    .venv/bin/python bench/daily_health.py --concurrency 10 --rate 0 --latency-ms 50
    .venv/bin/python bench/daily_health.py --rate 0 --no-flow --repeat 3 --floor
    .venv/bin/python bench/daily_health.py --rate 0 --no-flow --profile /tmp/collect.prof

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

Beside the wall time, the row says what the collection cost this process in CPU
(getrusage: the sandbox runs in its own process, so this is the client's alone), per
request, and per second of a fixed calibration loop timed just before (`calibration_s`), so
a figure from a slow or busy machine compares with one from a fast idle one (issue 22).
`--repeat N` collects N times against the same sandbox and reports the medians; `--floor`
adds the same requests made by a bare `httpx.AsyncClient` loop and by a bare aiohttp one
(no retries, limits, validation), the CPU floors the client is compared with; `--profile
FILE` writes a cProfile of one collection.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import (  # noqa: E402 (bench/ is the script's folder)
    CPU_MS_PER_REQUEST_PER_CALIBRATION_S,
    bench_parser,
    calibration_seconds,
    cpu_seconds,
    median,
    verdict,
)


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


async def mailops_collection(
    as_of: datetime, profile: cProfile.Profile | None = None
) -> tuple[float, float, int, int, int, int]:
    """The flow's two collection tasks' library calls, side by side, as the flow runs them:
    wall seconds, this process's CPU seconds, teams, domains, failures, Cleanbox requests."""
    from mailops.cleanbox import CleanboxClient
    from mailops.emboux import EmbouxClient
    from mailops.health import collect_domains, collect_teams
    from mailops.settings import cleanbox_teams, load_settings

    settings = load_settings()
    teams = cleanbox_teams(settings)
    async with CleanboxClient.from_settings(settings) as cb, EmbouxClient.from_settings(
        settings
    ) as em:
        if profile is not None:
            profile.enable()
        cpu = cpu_seconds()
        started = time.perf_counter()
        cleanbox, emboux = await asyncio.gather(
            collect_teams(cb, teams, as_of, settings.alerts.top_senders), collect_domains(em)
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        if profile is not None:
            profile.disable()
    failures = len(cleanbox.failures) + len(emboux.failures)
    # Requests made: 5 per team (team, quarantine, failed, denied counts with `total`, top
    # senders), 1 domain list, 1 per domain.
    return elapsed, cpu, len(cleanbox.teams), len(emboux.domains), failures, 5 * len(teams)


Get = Callable[[str, str, dict[str, Any] | None], Awaitable[Any]]  # (path, key, query)


async def bare_collection(info: dict[str, Any], as_of: datetime, cleanbox: Get,
                          emboux: Get) -> tuple[float, float]:
    """The collection's requests, as the flow's tasks make them, through two bare `get`s
    (one per API, paths relative to its base URL): wall and CPU seconds."""
    since = (as_of - timedelta(hours=24)).isoformat()
    master = info["master_token"]
    team_calls = []
    for key in info["team_keys"].values():
        team_calls += [
            cleanbox("team", key, None),
            cleanbox("quarantine", key, {"page": 1, "per_page": 100}),
            *(cleanbox("messages", key, {"status": status, "since": since, "page": 1,
                                         "per_page": 100}) for status in ("failed", "denied")),
            cleanbox("contacts", key, {"sort": "emailCount", "dir": "desc", "page": 1,
                                       "per_page": 5}),
        ]

    async def domains() -> None:
        names = [d["name"] for d in await emboux("domains", master, None)]
        await asyncio.gather(*(emboux(f"domains/{name}/outbound", master, None)
                               for name in names))

    cpu = cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(asyncio.gather(*team_calls), domains())
    return time.perf_counter() - started, cpu_seconds() - cpu


async def bare_httpx(
    info: dict[str, Any], as_of: datetime, concurrency: int
) -> tuple[float, float]:
    """The collection by a bare `httpx.AsyncClient` per API (the same concurrency, `.json()`
    of each answer, nothing else): the floor of httpx's own pool."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    def bare(client: httpx.AsyncClient) -> Get:
        gate = asyncio.Semaphore(concurrency)

        async def get(path: str, key: str, params: dict[str, Any] | None) -> Any:
            async with gate:
                answer = await client.get(path, params=params,
                                          headers={"Authorization": f"Bearer {key}"})
                return answer.raise_for_status().json()

        return get

    async with httpx.AsyncClient(base_url=info["cleanbox_url"], limits=limits,
                                 trust_env=False) as cb, \
            httpx.AsyncClient(base_url=info["emboux_url"], limits=limits,
                              trust_env=False) as em:
        return await bare_collection(info, as_of, bare(cb), bare(em))


async def bare_aiohttp(
    info: dict[str, Any], as_of: datetime, concurrency: int
) -> tuple[float, float]:
    """The same requests by a bare `aiohttp.ClientSession` per API (the sockets mailops's
    transport uses, with nothing above them): today's floor."""
    import aiohttp

    def bare(session: aiohttp.ClientSession) -> Get:
        gate = asyncio.Semaphore(concurrency)

        async def get(path: str, key: str, params: dict[str, Any] | None) -> Any:
            async with gate, session.get(path, params=params,
                                         headers={"Authorization": f"Bearer {key}"}) as answer:
                answer.raise_for_status()
                return await answer.json()

        return get

    def session(base: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(base + "/", connector=aiohttp.TCPConnector(limit=concurrency))

    async with session(info["cleanbox_url"]) as cb, session(info["emboux_url"]) as em:
        return await bare_collection(info, as_of, bare(cb), bare(em))


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
    parser.add_argument("--repeat", type=int, default=1,
                        help="collections against the same sandbox; medians are reported")
    parser.add_argument("--floor", action="store_true",
                        help="also time the same requests by a bare httpx.AsyncClient loop")
    parser.add_argument("--no-seed-way", action="store_true",
                        help="skip timing the monitoring guide's one-by-one way")
    parser.add_argument("--profile", type=Path, help="write a cProfile of one collection here")
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
            runs, calibrations, floors, sandbox_cpu, aio_floors = [], [], [], [], []
            for _ in range(max(1, args.repeat)):
                calibrations.append(calibration_seconds())
                served_before = cpu_seconds(server.pid)
                runs.append(asyncio.run(mailops_collection(as_of)))
                sandbox_cpu.append(cpu_seconds(server.pid) - served_before)
                if args.floor:
                    calibrations.append(calibration_seconds())
                    floors.append(asyncio.run(bare_httpx(info, as_of, args.concurrency)))
                    aio_floors.append(asyncio.run(bare_aiohttp(info, as_of, args.concurrency)))
            if args.profile:
                profile = cProfile.Profile(time.process_time)  # CPU, not wall
                asyncio.run(mailops_collection(as_of, profile))
                profile.dump_stats(args.profile)
            elapsed = median([run[0] for run in runs])
            cpu = median([run[1] for run in runs])
            calibration = median(calibrations)
            _, _, teams, domains, failures, cleanbox_requests = runs[0]
            emboux_requests = domains + 1
            requests = cleanbox_requests + emboux_requests
            latency = args.latency_ms / 1000
            bounds = []
            for api_requests in (cleanbox_requests, emboux_requests):
                by_latency = api_requests * latency / args.concurrency
                by_rate = api_requests / args.rate if args.rate else 0.0
                bounds.append(max(by_latency, by_rate))
            bound = max(bounds)
            sample_teams = max(1, round(teams * args.sample))
            sample_domains = max(1, round(domains * args.sample))
            baseline = None
            if not args.no_seed_way:
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
        "requests": requests, "mailops_s": round(elapsed, 2),
        "bound_s": round(bound, 2), "ratio": round(elapsed / bound, 2) if bound else None,
        "runs": len(runs), "calibration_s": round(calibration, 3),
        "client_cpu_s": round(cpu, 3),
        "cpu_ms_per_request": round(1000 * cpu / requests, 3),
        "cpu_ms_per_request_per_calibration_s": round(1000 * cpu / requests / calibration, 3),
        "sandbox_cpu_ms_per_request": round(1000 * median(sandbox_cpu) / requests, 3),
        "seed_way_s": round(baseline, 1) if baseline else None,
        "speedup": round(baseline / elapsed, 1) if baseline else None,
        "flow_s": round(flow_time, 2) if flow_time is not None else None,
    }
    ratio_limit = 1.3 if args.concurrency <= 20 else 1.5  # issue 22's targets
    row |= {
        "ratio_target": f"{ratio_limit}x: {verdict(row['ratio'], ratio_limit)}",
        # Issue 22 states the CPU target flat out (--rate 0); at a rate limit a request is
        # alone in its event-loop turn and the client idles (the shipped 20 req/s: 2 % of a core).
        "cpu_target": f"{CPU_MS_PER_REQUEST_PER_CALIBRATION_S} ms/request per calibration s: "
                      + (verdict(row["cpu_ms_per_request_per_calibration_s"],
                                 CPU_MS_PER_REQUEST_PER_CALIBRATION_S)
                         if not args.rate else "not judged at a rate limit"),
    }
    if floors:
        floor_cpu = median([cpu for _, cpu in floors])
        row |= {
            "floor_wall_s": round(median([wall for wall, _ in floors]), 2),
            "floor_cpu_ms_per_request": round(1000 * floor_cpu / requests, 3),
            "floor_cpu_ms_per_request_per_calibration_s": round(
                1000 * floor_cpu / requests / calibration, 3),
            "aiohttp_floor_wall_s": round(median([wall for wall, _ in aio_floors]), 2),
            "aiohttp_floor_cpu_ms_per_request": round(
                1000 * median([cpu for _, cpu in aio_floors]) / requests, 3),
        }
    print(json.dumps(row))
    if args.record:
        from _common import record

        record("daily-health collection", "", [], [
            row["date"], f"{args.scale} ({teams} teams, {domains} domains)",
            f"{args.latency_ms:g} ms", args.concurrency, row["rate"], row["requests"],
            f"**{row['mailops_s']}**", row["bound_s"], row["ratio"],
            f"{row['seed_way_s']} (sampled {args.sample:.0%})", f"{row['speedup']}x",
            row["flow_s"], row["calibration_s"], row["cpu_ms_per_request"],
            row["sandbox_cpu_ms_per_request"], row["ratio_target"], row["cpu_target"],
        ])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}")


if __name__ == "__main__":
    main()
