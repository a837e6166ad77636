"""A hand run's fixed cost: Prefect's temporary server against the local server of hand runs,
idle and with every core taken, with a fresh and a warm Prefect home.

    .venv/bin/python bench/hand_runs.py                 # every case, 3 runs of each warm one
    .venv/bin/python bench/hand_runs.py --runs 1 --only local --record

The measured command is `mailops domains watch --no-notify` with nothing to watch: a real
job command (settings, Prefect, one flow run with its tasks, the store), with no API call, so
its wall time is what a hand run pays before any work. Each run is a new process, as a person
starts it. "temporary" is MAILOPS_PREFECT_SERVER=temporary (Prefect's temporary server in each
run, what every hand run did before), "local" the local server (`mailops.prefect_server`):
"first run" starts it in a fresh data folder, "running" finds it, "restart" starts it again
on its warm home (after `mailops server stop` or a reboot). A fresh home is a new PREFECT_HOME
for the command (the temporary server migrates its database there) and a new data folder for
the local server. "loaded" runs one CPU-bound process per core beside it. One JSON row per
case; with --record each under its BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ROOT, median, record

sys.path.insert(0, str(ROOT))

SECTION = "Hand runs: reaching Prefect"
INTRO = """
What a hand run pays before any work: `mailops domains watch --no-notify` with nothing to
watch (settings, Prefect's import, one flow run and its tasks, the store; no API call), each
run a new process, wall time. "temporary": Prefect's temporary server in the run
(MAILOPS_PREFECT_SERVER=temporary, what every hand run did before); "local": the local server
of hand runs, its first run (which starts it), later runs (which find it running), and a
restart on its warm home. Home "fresh" is a new PREFECT_HOME (and for the local server a new
data folder: its database is migrated first); "warm" one used before. "loaded": a CPU-bound
process on every core beside it. "failed" counts runs that did not exit 0 (the reason
after it). The load column is the 1-minute load average before the case: other work on the
machine counts too. Command: `.venv/bin/python bench/hand_runs.py --record`.
"""
HEADER = ["date", "prefect", "run", "home", "machine", "runs", "median s", "min s", "max s",
          "failed", "load before"]
COMMAND = ["domains", "watch", "--no-notify"]
TIMEOUT = 300.0


@contextmanager
def busy(loaded: bool) -> Iterator[None]:
    """A CPU-bound process on every core while inside (nothing when not `loaded`)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range((os.cpu_count() or 2) if loaded else 0)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def environment(folder: Path, home: Path, mode: str) -> dict[str, str]:
    """The command's environment: a store and data folder in `folder`, PREFECT_HOME `home`,
    MAILOPS_PREFECT_SERVER `mode`, and none of the caller's Prefect server or mailops setup."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAILOPS_") and k != "PREFECT_API_URL"}
    env.update({
        "MAILOPS_DATABASE_URL": f"sqlite:///{folder / 'mailops.db'}",
        "MAILOPS_DATA_DIR": str(folder / "data"),
        "MAILOPS_EMBOUX_API_KEY": "emb_bench_never_sent",
        "MAILOPS_PREFECT_SERVER": mode,
        "PREFECT_HOME": str(home),
    })
    return env


def mailops(env: dict[str, str], *args: str, timeout: float = TIMEOUT) -> tuple[float, str]:
    """Run `mailops ARGS`; (wall seconds, "" or why it failed)."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "cli", *args], env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, f"no exit within {timeout:.0f} s"
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return seconds, ""
    lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"]
    why = next((line for line in reversed(lines) if "Timed out" in line), lines[-1])
    return seconds, why.removeprefix("mailops: ")[:120]


def measure(mode: str, run: str, fresh: bool, loaded: bool, runs: int) -> dict[str, Any]:
    """One case: `runs` hand runs, each prepared outside the timing (store created; for
    "running" the server started, for "restart" started once and stopped)."""
    from mailops import prefect_server

    times, failures = [], []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mailops-hand-runs-") as scratch:
        base = Path(scratch)
        warm_home = base / "warm-home"
        shared = base / "shared"  # the data folder of the "running" and "restart" cases
        for index in range(runs):
            folder = base / f"run-{index}" if run == "first run" else shared
            home = base / f"home-{index}" if fresh else warm_home
            env = environment(folder, home, mode)
            if index == 0 or run == "first run":
                mailops(env, "db", "upgrade")
                if not fresh or run in ("running", "restart"):
                    mailops(env, *COMMAND)  # warms the home (and starts the local server)
            if run == "restart":
                prefect_server.stop(folder / "data")
            with busy(loaded):
                seconds, failure = mailops(env, *COMMAND)
            times.append(seconds)
            if failure:
                failures.append(failure)
            if run == "first run":
                prefect_server.stop(folder / "data")
        prefect_server.stop(shared / "data")
    reasons = sorted(set(failures))
    return {
        "date": datetime.now(UTC).date().isoformat(), "prefect": mode, "run": run,
        "home": "fresh" if fresh else "warm", "machine": "loaded" if loaded else "idle",
        "runs": runs, "median_s": round(median(times), 1), "min_s": round(min(times), 1),
        "max_s": round(max(times), 1), "failed": len(failures), "why": reasons,
        "load_before": round(load, 1),
    }


CASES = [  # (prefect, run, fresh home); each idle and loaded
    ("temporary", "each run", True),
    ("temporary", "each run", False),
    ("local", "first run", True),
    ("local", "running", False),
    ("local", "restart", False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each case")
    parser.add_argument("--only", choices=["temporary", "local"], help="only these cases")
    parser.add_argument("--run", choices=sorted({run for _, run, _ in CASES}),
                        help="only the cases of this run")
    parser.add_argument("--idle-only", action="store_true", help="skip the loaded machine")
    parser.add_argument("--record", action="store_true", help="append rows to BENCHMARKS.md")
    args = parser.parse_args()
    for mode, run, fresh in CASES:
        if (args.only and mode != args.only) or (args.run and run != args.run):
            continue
        for loaded in (False,) if args.idle_only else (False, True):
            row = measure(mode, run, fresh, loaded, args.runs)
            print(json.dumps(row), flush=True)
            if args.record:
                failed = str(row["failed"]) + (f" ({'; '.join(row['why'])})" if row["why"]
                                               else "")
                record(SECTION, INTRO, HEADER, [
                    row["date"], row["prefect"], row["run"], row["home"], row["machine"],
                    row["runs"], f"**{row['median_s']}**", row["min_s"], row["max_s"], failed,
                    row["load_before"]])


if __name__ == "__main__":
    main()
