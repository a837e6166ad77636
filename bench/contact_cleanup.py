"""contact-cleanup planning at scale: throughput and peak memory of the streamed plan.

    .venv/bin/python bench/contact_cleanup.py                        # 100k contacts
    .venv/bin/python bench/contact_cleanup.py --contacts 200000 --record

The sandbox runs in a child process on 127.0.0.1 (no injected latency) with `--contacts`
contacts in its first team, so its memory is not counted. This process plans that team the
way the flow's plan task does (every unset contact, page 1 then bounded look-ahead,
classified and streamed into a fresh SQLite plan table) and reports contacts per second and
its peak resident memory (ru_maxrss), before and after. With --compare it then reads the same
listing into one list (`get_all`, what the contact-bot guide's script does,
docs/cleanbox-api.md#contact-rules) to show what streaming saves. One row is appended to
BENCHMARKS.md with --record.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
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


def child(seed: int, contacts: int) -> None:
    """Serve a sandbox with `contacts` contacts in its first team; stop at stdin EOF."""
    from sandbox.server import Sandbox

    with Sandbox.start(seed=seed, scale="small", big_team_contacts=contacts) as sb:
        name, key = next(iter(sb.team_keys.items()))
        print(json.dumps({"cleanbox_url": sb.cleanbox_url, "team": name, "key": key,
                          "now": sb.now().isoformat()}), flush=True)
        sys.stdin.read()


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def plan(info: dict[str, Any], database_url: str, concurrency: int) -> dict[str, Any]:
    from pydantic import SecretStr

    from mailops.cleanbox import CleanboxClient
    from mailops.contacts import JOB, PlanSummary, plan_batches, save_streamed_plan
    from mailops.settings import ApiLimits, ContactRules, Settings, TeamCredential
    from mailops.store import Store

    settings = Settings(
        cleanbox_base_url=info["cleanbox_url"],
        cleanbox_limits=ApiLimits(concurrency=concurrency, rate_limit_per_second=0),
    )
    team = TeamCredential(info["team"], SecretStr(info["key"]))
    summary = PlanSummary("bench")
    with Store(database_url) as store:
        store.upgrade()
        started = time.perf_counter()
        async with CleanboxClient.from_settings(settings) as client:
            stored = await save_streamed_plan(
                store, "bench", JOB,
                plan_batches(client, [team], ContactRules(), datetime.fromisoformat(info["now"]),
                             summary),
            )
        elapsed = time.perf_counter() - started
    return {"fetched": summary.fetched, "stored": stored, "seconds": elapsed,
            "planned": dict(summary.planned)}


async def one_list(info: dict[str, Any], concurrency: int) -> float:
    """The contact-bot guide's way: the whole unset listing in one list of contacts; seconds."""
    from pydantic import SecretStr

    from mailops.cleanbox import CleanboxClient
    from mailops.settings import ApiLimits, Settings

    settings = Settings(cleanbox_base_url=info["cleanbox_url"],
                        cleanbox_limits=ApiLimits(concurrency=concurrency,
                                                  rate_limit_per_second=0))
    started = time.perf_counter()
    async with CleanboxClient.from_settings(settings) as client:
        team = client.for_team(info["team"], SecretStr(info["key"]))
        contacts = await team.contacts(state="unset")
    assert contacts
    return time.perf_counter() - started


def main() -> None:
    parser = bench_parser(__doc__, concurrency=10, latency=False)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--compare", action="store_true",
                        help="then read the listing into one list, for contrast")
    args = parser.parse_args()
    if args.child:
        child(args.seed, args.contacts)
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--child", "--seed", str(args.seed),
         "--contacts", str(args.contacts)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        import mailops.contacts  # noqa: F401  (imports before the baseline)

        baseline = peak_mb()
        with tempfile.TemporaryDirectory() as folder:
            result = asyncio.run(plan(info, f"sqlite:///{folder}/bench.db", args.concurrency))
        streamed_peak = peak_mb()
        list_seconds = list_peak = None
        if args.compare:
            list_seconds = asyncio.run(one_list(info, args.concurrency))
            list_peak = peak_mb()
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=60)

    row = {
        "date": date.today().isoformat(), "contacts": args.contacts,
        "unset": result["fetched"], "plan_rows": result["stored"],
        "concurrency": args.concurrency, "seconds": round(result["seconds"], 2),
        "per_second": round(result["fetched"] / result["seconds"]),
        "baseline_mb": round(baseline), "peak_mb": round(streamed_peak),
        "list_seconds": round(list_seconds, 2) if list_seconds else None,
        "list_peak_mb": round(list_peak) if list_peak else None,
        "planned": result["planned"],
    }
    print(json.dumps(row))
    if args.record:
        from _common import record

        record("contact-cleanup planning", "", [], [
            row["date"], f"{args.contacts:,}", f"{row['unset']:,}", f"{row['plan_rows']:,}",
            args.concurrency, row["seconds"], f"**{row['per_second']:,}**",
            row["baseline_mb"], f"**{row['peak_mb']}**",
            row["list_peak_mb"] if row["list_peak_mb"] else "-",
        ])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}")


if __name__ == "__main__":
    main()
