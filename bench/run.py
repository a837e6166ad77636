"""Every benchmark scenario, one after another: `make bench` runs this with --record.

    .venv/bin/python bench/run.py                 # full sizes (about 10 minutes on 2 vCPUs)
    .venv/bin/python bench/run.py --quick         # small sizes, a smoke run (about 1 minute)
    .venv/bin/python bench/run.py --record --only guard,report

Each scenario is its own script, run in a subprocess (so peak memory is per scenario) with a
time limit; each prints one JSON row, and with --record appends it under its section of
BENCHMARKS.md. This prints the machine (cores, memory, versions) first and a summary of the
rows last; a scenario that fails or times out is reported and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _common import CPU_MS_PER_REQUEST_PER_CALIBRATION_S, calibration_seconds, verdict

BENCH = Path(__file__).resolve().parent

# name: (script, full-size arguments, --quick arguments)
SCENARIOS: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "health": [("daily_health.py", ["--concurrency", "50", "--rate", "0", "--repeat", "3"],
                ["--scale", "small", "--sample", "0.5", "--no-flow"])],
    "contacts": [("contact_cleanup.py", ["--contacts", "100000", "--compare"],
                  ["--contacts", "10000"]),
                 ("contact_cleanup.py", ["--contacts", "1000000"], [])],
    "quarantine": [("quarantine_accept.py", [],
                    ["--messages", "1000", "--contacts", "500", "--runs", "1"])],
    "guard": [("outbound_guard.py", [], ["--scale", "medium", "--polls", "1"])],
    "report": [("weekly_report.py", [], ["--domains", "500", "--days", "120", "--runs", "1"]),
               ("weekly_report.py", ["--history-weeks", "52"], [])],
    "orchestration": [("orchestration.py", [], ["--scale", "small", "--runs", "1"])],
    "hand-runs": [("hand_runs.py", [], ["--runs", "1", "--idle-only"])],
    "scale-out": [("scale_out.py", ["bench"],
                   ["bench", "--scale", "medium", "--latency-ms", "10"])],
}
PACKAGES = ("prefect", "httpx", "aiohttp", "uvicorn", "pandas", "sqlalchemy", "pydantic")


@dataclass(frozen=True)
class Target:
    """A target of BENCHMARKS.md's Targets table: the row it judges (its script, and the
    arguments it ran with), the figure, and the limit it may not pass (a figure of the same
    row with `limit_key`, e.g. the client's CPU that the sandbox's must stay under)."""

    label: str
    script: str
    key: str
    limit: float = 0.0
    at_least: bool = False
    where: tuple[tuple[str, Any], ...] = ()
    limit_key: str | None = None

    def judge(self, rows: list[dict[str, Any]]) -> str:
        found = [r for r in rows if r.get("script") == self.script and "error" not in r
                 and all(r.get(k) == v for k, v in self.where)]
        if not found:
            return f"{self.label}: not run"
        row = found[-1]
        limit = row.get(self.limit_key) if self.limit_key else self.limit
        value = row.get(self.key)
        sign = ">=" if self.at_least else "<="
        return (f"{self.label}: {value} ({sign} {limit}): "
                + verdict(value, float(limit or 0), at_least=self.at_least))


TARGETS = (
    Target("daily-health collection / bound, 50 in flight", "daily_health.py", "ratio", 1.5),
    Target("daily-health client CPU ms/request per calibration s", "daily_health.py",
           "cpu_ms_per_request_per_calibration_s", CPU_MS_PER_REQUEST_PER_CALIBRATION_S),
    Target("daily-health sandbox CPU per request under the client's", "daily_health.py",
           "sandbox_cpu_ms_per_request", limit_key="cpu_ms_per_request"),
    Target("collection speed-up over the monitoring guide's way", "daily_health.py",
           "speedup", 20, at_least=True),
    Target("contact-cleanup planning contacts/s, 100k", "contact_cleanup.py", "per_second",
           5000, at_least=True, where=(("contacts", 100_000),)),
    Target("contact-cleanup planning peak MB, 100k", "contact_cleanup.py", "peak_mb", 300,
           where=(("contacts", 100_000),)),
    Target("outbound-guard poll / bound", "outbound_guard.py", "ratio", 1.5),
    Target("outbound-guard client CPU ms/request per calibration s", "outbound_guard.py",
           "cpu_ms_per_request_per_calibration_s", CPU_MS_PER_REQUEST_PER_CALIBRATION_S),
    Target("outbound-guard sandbox CPU per request under the client's", "outbound_guard.py",
           "sandbox_cpu_ms_per_request", limit_key="cpu_ms_per_request"),
    Target("weekly-report seconds, 8 weeks of history", "weekly_report.py", "report_s", 10,
           where=(("history_weeks", 8),)),
    Target("Prefect overhead % of the collection", "orchestration.py", "overhead_pct", 10),
)


def machine() -> dict[str, Any]:
    """Cores, memory and versions, as the Method section of BENCHMARKS.md states them."""
    memory = ""
    with contextlib.suppress(OSError, IndexError):
        memory = subprocess.run(["free", "-h"], capture_output=True, text=True,
                                check=False).stdout.splitlines()[1].split()[1]
    return {"cpus": os.cpu_count(), "memory": memory, "python": platform.python_version(),
            "machine": platform.machine(),
            **{name: version(name) for name in PACKAGES}}


def run(script: str, arguments: list[str], record: bool, timeout: float) -> dict[str, Any]:
    """One scenario in a subprocess; its JSON row, or what went wrong."""
    command = [sys.executable, str(BENCH / script), *arguments, *(["--record"] if record else [])]
    print(f"$ {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"script": script, "error": f"timed out after {timeout:.0f} s"}
    rows = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"script": script, "error": f"exit {done.returncode}: {' | '.join(tail)}"}
    row = json.loads(rows[-1])
    row["script"], row["wall_s"] = script, round(time.perf_counter() - started, 1)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--record", action="store_true",
                        help="append each row to BENCHMARKS.md")
    parser.add_argument("--only", default="", help=f"comma-separated of {', '.join(SCENARIOS)}")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per scenario")
    args = parser.parse_args()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    print(json.dumps({"machine": machine(), "calibration_s": round(calibration_seconds(), 3)}),
          flush=True)
    results = []
    for name in chosen:
        for index, (script, full, quick) in enumerate(SCENARIOS[name]):
            if args.quick and index > 0:
                continue  # the larger variants only at full size
            results.append(run(script, quick if args.quick else full, args.record, args.timeout))
    print("Targets (issue 22: each row says met or missed by how much):")
    for target in TARGETS:
        print(f"  {target.judge(results)}")
    failed = [r for r in results if "error" in r]
    for row in failed:
        print(f"FAILED {row['script']}: {row['error']}", file=sys.stderr)
    print(f"{len(results) - len(failed)} of {len(results)} scenarios ran"
          + (", rows recorded in BENCHMARKS.md" if args.record else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
