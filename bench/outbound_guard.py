"""outbound-guard over every EmBoux domain: one poll against its lower bound.

    .venv/bin/python bench/outbound_guard.py                      # large: 20,000 domains
    .venv/bin/python bench/outbound_guard.py --scale medium --polls 1

The sandbox runs in a child process on 127.0.0.1 (`--scale` large: 1,000 teams and 20,000
domains) with `--latency-ms` added to every API request. One poll is what the flow's
`read_domains` task does (`collect_domains`: `GET /domains`, then every domain's
`GET /domains/{name}/outbound` at the configured concurrency, no client-side rate limit)
followed by `evaluate_and_remember`'s library calls (the guard's engine,
docs/outbound-guard.md, over every mailbox, states and plan stored in SQLite); `--polls` polls
in a row, the first on an empty store, medians reported. The bound is requests x latency /
concurrency. Requests are counted by the sandbox. One JSON row; with --record a row under its
BENCHMARKS.md section.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import date, datetime
from typing import Any

from _common import (
    ROOT,
    Child,
    bench_parser,
    calibration_seconds,
    cpu_seconds,
    median,
    peak_mb,
    record,
    verdict,
)

sys.path.insert(0, str(ROOT))

SECTION = "outbound-guard"
INTRO = """
One poll of the guard over every EmBoux domain of a large sandbox (seed 7, 20,000 domains),
50 ms of latency on every request, the sandbox in a child process on the same vCPUs, no
client-side rate limit. "read s" is `collect_domains` (`GET /domains` and one
`GET .../outbound` per domain, what the flow's read task does), "evaluate s" the engine over
every mailbox plus storing states, groups and plan (the evaluate task's library calls), "poll
s" both; medians of `polls` polls in a row. "bound s" is requests x latency / concurrency.
Command: `.venv/bin/python bench/outbound_guard.py --record`.
"""
HEADER = ["date", "domains", "latency", "concurrency", "polls", "requests", "read s",
          "evaluate s", "poll s", "bound s", "ratio", "failures", "planned", "peak MB",
          "calibration s", "client CPU ms/request", "sandbox CPU ms/request", "target"]


def child(seed: int, scale: str, latency_ms: float) -> None:
    """Serve a sandbox with latency on every API request; stop at stdin EOF."""
    from sandbox.server import Sandbox

    with Sandbox.start(seed=seed, scale=scale) as sb:
        rule = sb.inject_fault("* /**", "latency", latency_ms=latency_ms)
        print(json.dumps({"emboux_url": sb.emboux_url, "control_url": sb.control_url,
                          "master_token": sb.master_token, "now": sb.now().isoformat(),
                          "rule": rule["id"]}), flush=True)
        sys.stdin.read()


async def read(sandbox: Child, concurrency: int) -> tuple[Any, float, int]:
    """`collect_domains` once: what was read, seconds, requests."""
    from pydantic import SecretStr

    from mailops.emboux import EmbouxClient
    from mailops.health import collect_domains
    from mailops.settings import ApiLimits, Settings

    info = sandbox.info
    settings = Settings(emboux_base_url=info["emboux_url"],
                        emboux_api_key=SecretStr(info["master_token"]),
                        emboux_limits=ApiLimits(concurrency=concurrency,
                                                rate_limit_per_second=0))
    before = sandbox.matched(info["rule"])
    async with EmbouxClient.from_settings(settings) as client:
        cpu, served = cpu_seconds(), cpu_seconds(sandbox.process.pid)
        started = time.perf_counter()
        collected = await collect_domains(client)
        elapsed = time.perf_counter() - started
        cpu, served = cpu_seconds() - cpu, cpu_seconds(sandbox.process.pid) - served
    return collected, elapsed, sandbox.matched(info["rule"]) - before, cpu, served


def evaluate_and_store(database_url: str, collected: Any, as_of: datetime, run: str) -> int:
    """The evaluate task's library calls; answers how many changes were planned."""
    from mailops.gate import save_plan
    from mailops.guard import JOB, evaluate
    from mailops.settings import GuardSettings
    from mailops.store import Store

    with Store(database_url) as store:
        store.upgrade()
        failed = [f.subject for f in collected.failures]
        outcome = evaluate(store.guard.mailboxes(), collected.domains, failed, as_of,
                           GuardSettings())
        store.guard.groups()
        store.guard.save_mailboxes(outcome.records, as_of)
        store.guard.save_groups({g.group: g.status.value for g in outcome.groups}, as_of)
        return save_plan(store, run, JOB, outcome.actions)


def main() -> None:
    parser = bench_parser(__doc__, concurrency=50)
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--polls", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(args.seed, args.scale, args.latency_ms)
        return

    reads: list[float] = []
    evaluations: list[float] = []
    polls: list[float] = []
    client_cpu: list[float] = []
    sandbox_cpu: list[float] = []
    calibration = calibration_seconds()
    with Child(__file__, ["--seed", str(args.seed), "--scale", args.scale, "--latency-ms",
                          str(args.latency_ms)]) as sandbox, \
            tempfile.TemporaryDirectory() as folder:
        as_of = datetime.fromisoformat(sandbox.info["now"])
        database_url = f"sqlite:///{folder}/guard.db"
        for poll in range(args.polls):
            collected, seconds, requests, cpu, served = asyncio.run(
                read(sandbox, args.concurrency))
            client_cpu.append(cpu)
            sandbox_cpu.append(served)
            started = time.perf_counter()
            planned = evaluate_and_store(database_url, collected, as_of, f"bench-{poll}")
            evaluated = time.perf_counter() - started
            reads.append(seconds)
            evaluations.append(evaluated)
            polls.append(seconds + evaluated)
    bound = requests * args.latency_ms / 1000 / args.concurrency
    row = {
        "scenario": "outbound_guard", "date": date.today().isoformat(),
        "domains": len(collected.domains), "failures": len(collected.failures),
        "latency_ms": args.latency_ms, "concurrency": args.concurrency, "polls": args.polls,
        "requests": requests, "read_s": round(median(reads), 2),
        "evaluate_s": round(median(evaluations), 2), "poll_s": round(median(polls), 2),
        "bound_s": round(bound, 2), "ratio": round(median(polls) / bound, 2),
        "read_ratio": round(median(reads) / bound, 2), "planned": planned,
        "poll_runs": [round(p, 2) for p in polls], "peak_mb": round(peak_mb()),
        "calibration_s": round(calibration, 3),
        "cpu_ms_per_request": round(1000 * median(client_cpu) / requests, 3),
        "sandbox_cpu_ms_per_request": round(1000 * median(sandbox_cpu) / requests, 3),
    }
    row["cpu_ms_per_request_per_calibration_s"] = round(
        row["cpu_ms_per_request"] / calibration, 3)
    row["ratio_target"] = f"1.5x: {verdict(row['ratio'], 1.5)}"
    print(json.dumps(row))
    if args.record:
        record(SECTION, INTRO, HEADER, [
            row["date"], f"{row['domains']:,}", f"{args.latency_ms:g} ms", args.concurrency,
            args.polls, f"{requests:,}", row["read_s"], row["evaluate_s"], f"**{row['poll_s']}**",
            row["bound_s"], f"{row['ratio']} (read alone {row['read_ratio']})", row["failures"],
            planned, row["peak_mb"], row["calibration_s"], row["cpu_ms_per_request"],
            row["sandbox_cpu_ms_per_request"], row["ratio_target"],
        ])


if __name__ == "__main__":
    main()
