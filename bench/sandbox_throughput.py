"""Sandbox throughput and build times: how fast the local simulators answer and start.

    .venv/bin/python bench/sandbox_throughput.py                  # requests/s, wrk if installed
    .venv/bin/python bench/sandbox_throughput.py --tool python    # asyncio + httpx generator
    .venv/bin/python bench/sandbox_throughput.py --big-team-contacts 1000000
    .venv/bin/python bench/sandbox_throughput.py --builds         # world build time per scale

The server runs in a child process (so the load generator does not share its interpreter), on
127.0.0.1 only, with no injected latency. Every run is bounded in time (--seconds per target)
and in count (--max-requests for the Python generator).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def child(scale: str, seed: int, big: int) -> None:
    """Serve a sandbox and print what the parent needs as one JSON line; stop at stdin EOF."""
    from sandbox.server import Sandbox

    with Sandbox.start(seed=seed, scale=scale, big_team_contacts=big) as sb:
        print(json.dumps({
            "base_url": sb.base_url,
            "team_key": next(iter(sb.team_keys.values())),
            "domain": sb.world.domains[0].name,
            "master_token": sb.master_token,
            "build_seconds": sb.world.build_seconds,
            "contacts": len(sb.world.teams[0].contacts),
        }), flush=True)
        sys.stdin.read()


async def python_load(url: str, headers: dict[str, str], seconds: float, concurrency: int,
                      max_requests: int) -> dict[str, Any]:
    """Closed-loop load: `concurrency` workers, each sending its next request on an answer."""
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, trust_env=False,
                                 timeout=10.0) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) + errors < max_requests:
                began = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "tool": f"python httpx asyncio, {concurrency} connections",
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
    }


def wrk_load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> dict:
    """Run wrk (2 threads) against one URL and parse its summary."""
    command = ["wrk", "-t2", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def pct(p: str) -> float | None:
        found = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not found:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
        return float(found.group(1)) * scale

    return {
        "tool": f"wrk -t2 -c{concurrency}",
        "requests": requests,
        "errors": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
        "rps": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
    }


def throughput(args: argparse.Namespace) -> None:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", args.scale, str(args.seed),
         str(args.big_team_contacts)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        base = info["base_url"]
        cleanbox = {"Authorization": f"Bearer {info['team_key']}"}
        emboux = {"Authorization": f"Bearer {info['master_token']}"}
        deep_page = max(1, info["contacts"] // 200)
        targets = [
            ("GET /emboux/domains/{name}/outbound",
             f"{base}/emboux/domains/{info['domain']}/outbound", emboux),
            ("GET /cleanbox/v1/contacts (unset, emailCount desc, per_page=100, page 3)",
             f"{base}/cleanbox/v1/contacts?state=unset&sort=emailCount&dir=desc&per_page=100"
             "&page=3", cleanbox),
            (f"GET /cleanbox/v1/contacts (same, page {deep_page})",
             f"{base}/cleanbox/v1/contacts?state=unset&sort=emailCount&dir=desc&per_page=100"
             f"&page={deep_page}", cleanbox),
        ]
        tool = args.tool
        if tool == "auto":
            tool = "wrk" if shutil.which("wrk") else "python"
        print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
              f"python {platform.python_version()}, scale {args.scale}, "
              f"team contacts {info['contacts']}, build {info['build_seconds']:.2f} s")
        print("| endpoint | tool | requests | errors | req/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|---|")
        for label, url, headers in targets:
            first = time.perf_counter()
            asyncio.run(python_load(url, headers, 0.5, 4, 200))  # warm-up, builds the index
            warm = time.perf_counter() - first
            if tool == "wrk":
                result = wrk_load(url, headers, args.seconds, args.concurrency)
            else:
                result = asyncio.run(python_load(url, headers, args.seconds, args.concurrency,
                                                 args.max_requests))
            p50, p99 = result["p50_ms"], result["p99_ms"]
            print(f"| {label} | {result['tool']} | {result['requests']} | {result['errors']} | "
                  f"{result['rps']:.0f} | {p50:.2f} | {p99:.2f} |  <!-- warm-up {warm:.2f} s -->")
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def builds(args: argparse.Namespace) -> None:
    """Time world builds per scale, and the first sorted page of a 1M-contact team."""
    from sandbox.cleanbox_state import UNSET
    from sandbox.world import build_world

    print("| world | build s | teams | domains | contacts | first sorted page s | next page ms |")
    print("|---|---|---|---|---|---|---|")
    cases = [("small", 0), ("medium", 0), ("large", 0), ("small", 100_000), ("small", 1_000_000)]
    for scale, big in cases:
        world = build_world(args.seed, scale, big_team_contacts=big)
        team = world.teams[0]
        began = time.perf_counter()
        rows = team.contacts.order(UNSET, "emailCount")
        first = time.perf_counter() - began
        began = time.perf_counter()
        for _ in range(100):
            rows = team.contacts.order(UNSET, "emailCount")
            _ = [team.contacts.to_json(i, team.salt, world.categories) for i in rows[-100:]]
        nxt = (time.perf_counter() - began) * 10  # ms per page
        label = scale + (f" + {big:,} contacts in one team" if big else "")
        contacts = sum(len(t.contacts) for t in world.teams)
        print(f"| {label} | {world.build_seconds:.2f} | {len(world.teams)} | "
              f"{len(world.domains)} | {contacts:,} | {first:.2f} | {nxt:.2f} |")
        del world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("SCALE", "SEED", "BIG"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--big-team-contacts", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--tool", default="auto", choices=("auto", "wrk", "python"))
    parser.add_argument("--builds", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
    elif args.builds:
        builds(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
