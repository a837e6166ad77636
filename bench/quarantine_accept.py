"""quarantine-accept over a large backlog: planning, the dry run and the accepts.

    .venv/bin/python bench/quarantine_accept.py                    # 10k messages, 5k contacts
    .venv/bin/python bench/quarantine_accept.py --messages 1000 --contacts 500 --runs 1

The sandbox runs in a child process on 127.0.0.1 (small world, seed 7) whose first team gets
`--contacts` whitelisted contacts and `--messages` quarantined messages (a share
`--whitelisted-share` of them from those contacts, in the spellings a sender's address takes in
a quarantined message's `from`, docs/cleanbox-api.md#quarantine) on top of the world's own
backlog, with `--latency-ms` added to every API request. This process makes the flow's library
calls: `plan_team` (exact backlog count, every whitelisted contact and every quarantined
message read, decided by the rules) and `save_plan` (the dry run's stored plan), `--runs`
times, medians reported; then once `apply_accepts` (batches of 100 through the gate), which
releases the messages. The planning's lower bound is its critical path at the configured
concurrency: latency x (2 + other pages / concurrency) (the count, then both first pages side
by side, then the rest). Requests are counted by the sandbox. One JSON row; with --record a row
under its BENCHMARKS.md section.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from _common import ROOT, Child, bench_parser, median, peak_mb, record

sys.path.insert(0, str(ROOT))

SECTION = "quarantine-accept"
INTRO = """
Planning the first team of a small sandbox (seed 7) given `contacts` whitelisted contacts and
`messages` quarantined messages (60 % of them from those contacts) on top of the world's own
backlog, 50 ms of latency on every request, the sandbox in a child process on the same
vCPUs. "plan s" is `plan_team` (exact count, every whitelisted contact and quarantined message
read, the guide's rule applied), "dry run s" adds storing the plan (`save_plan`, what a run
without `--apply` does); medians of `runs`. "bound s" is the planning's critical path at the
concurrency (the count, both first pages, then the other pages / concurrency, each 50 ms).
"apply s" is then one `apply_accepts` (batches of 100 through the gate, audited), once.
Command: `.venv/bin/python bench/quarantine_accept.py --record`.
"""
HEADER = ["date", "messages", "whitelisted contacts", "latency", "concurrency", "runs",
          "plan requests", "plan s", "bound s", "ratio", "dry run s", "planned", "apply requests",
          "apply s", "peak MB"]


def child(seed: int, messages: int, contacts: int, share: float, latency_ms: float) -> None:
    """Serve a world whose first team holds the extra contacts and backlog; stop at EOF."""
    from sandbox.cleanbox_state import KIND_LEGIT, QUARANTINED, WHITELISTED
    from sandbox.server import Sandbox
    from sandbox.world import build_world

    world = build_world(seed, "small")
    team = world.teams[0]
    now = int(world.clock.now().timestamp())
    for i in range(contacts):
        team.contacts.add(f"sender{i}@partner{i % 97}.com", 20, WHITELISTED, -1,
                          now - 30 * 86400, False, KIND_LEGIT)
    spellings = ['"Sender {i}" <Sender{i}@Partner{p}.COM>', " sender{i}@partner{p}.com ",
                 "SENDER{i}@PARTNER{p}.COM", "Sender {i} <sender{i}@partner{p}.com.>"]
    from_whitelisted = round(messages * share)
    for n in range(messages):
        if n < from_whitelisted:
            i = n % max(1, contacts)
            sender = spellings[n % 4].format(i=i, p=i % 97)
        else:
            sender = f"stranger{n}@elsewhere{n % 31}.net"
        bare = sender.rsplit("<", 1)[-1].strip(" >").lower()
        team.receive(sender, bare, f"info@{team.domain}", f"hello {n}", QUARANTINED,
                     1.0 + (n % 7), now - n)
    with Sandbox.start(world=world) as sb:
        rule = sb.inject_fault("* /**", "latency", latency_ms=latency_ms)
        name, key = next(iter(sb.team_keys.items()))
        print(json.dumps({"cleanbox_url": sb.cleanbox_url, "control_url": sb.control_url,
                          "team": name, "key": key, "rule": rule["id"]}), flush=True)
        sys.stdin.read()


async def measure(sandbox: Child, folder: Path, runs: int, concurrency: int) -> dict[str, Any]:
    """`runs` plans and dry runs, then one apply; seconds and request counts."""
    from pydantic import SecretStr

    from mailops.cleanbox import CleanboxClient
    from mailops.gate import save_plan
    from mailops.quarantine import JOB, apply_accepts, plan_team
    from mailops.settings import ApiLimits, Settings
    from mailops.store import Store

    info = sandbox.info
    settings = Settings(cleanbox_base_url=info["cleanbox_url"],
                        cleanbox_limits=ApiLimits(concurrency=concurrency,
                                                  rate_limit_per_second=0))
    plans: list[float] = []
    dry_runs: list[float] = []
    out: dict[str, Any] = {}
    async with CleanboxClient.from_settings(settings) as client:
        team = client.for_team(info["team"], SecretStr(info["key"]))
        for run in range(runs):
            with Store(f"sqlite:///{folder / f'run{run}.db'}") as store:
                store.upgrade()
                before = sandbox.matched(info["rule"])
                started = time.perf_counter()
                plan = await plan_team(team, info["team"], 10, None)
                planned_at = time.perf_counter()
                stored = save_plan(store, f"bench-{run}", JOB, plan.changes)
                finished = time.perf_counter()
                out["plan_requests"] = sandbox.matched(info["rule"]) - before
                plans.append(planned_at - started)
                dry_runs.append(finished - started)
                out.update(backlog=plan.backlog, planned=stored, whitelisted=plan.whitelisted,
                           kept=plan.kept)
                if run == runs - 1:
                    before = sandbox.matched(info["rule"])
                    started = time.perf_counter()
                    result = await apply_accepts(store, f"bench-{run}", {info["team"]: team})
                    out["apply_s"] = time.perf_counter() - started
                    out["apply_requests"] = sandbox.matched(info["rule"]) - before
                    out["applied"] = result.applied
    out.update(plan_s=median(plans), dry_run_s=median(dry_runs), plan_runs=plans)
    return out


def main() -> None:
    parser = bench_parser(__doc__, concurrency=10)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=5_000)
    parser.add_argument("--whitelisted-share", type=float, default=0.6)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(args.seed, args.messages, args.contacts, args.whitelisted_share, args.latency_ms)
        return

    with Child(__file__, ["--seed", str(args.seed), "--messages", str(args.messages),
                          "--contacts", str(args.contacts), "--whitelisted-share",
                          str(args.whitelisted_share), "--latency-ms", str(args.latency_ms)]
               ) as sandbox, tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(measure(sandbox, Path(folder), args.runs, args.concurrency))
    latency = args.latency_ms / 1000
    bound = latency * (2 + max(0, result["plan_requests"] - 3) / args.concurrency)
    row = {
        "scenario": "quarantine_accept", "date": date.today().isoformat(),
        "messages": args.messages, "contacts": args.contacts, "backlog": result["backlog"],
        "latency_ms": args.latency_ms, "concurrency": args.concurrency, "runs": args.runs,
        "plan_requests": result["plan_requests"], "plan_s": round(result["plan_s"], 2),
        "bound_s": round(bound, 2), "ratio": round(result["plan_s"] / bound, 2),
        "dry_run_s": round(result["dry_run_s"], 2), "planned": result["planned"],
        "kept": result["kept"], "apply_requests": result["apply_requests"],
        "apply_s": round(result["apply_s"], 2), "applied": result["applied"],
        "peak_mb": round(peak_mb()),
    }
    print(json.dumps(row))
    if args.record:
        record(SECTION, INTRO, HEADER, [
            row["date"], f"{args.messages:,} (backlog {row['backlog']:,})", f"{args.contacts:,}",
            f"{args.latency_ms:g} ms", args.concurrency, args.runs, row["plan_requests"],
            f"**{row['plan_s']}**", row["bound_s"], row["ratio"], row["dry_run_s"],
            f"{row['planned']:,}", row["apply_requests"], row["apply_s"], row["peak_mb"],
        ])


if __name__ == "__main__":
    main()
