"""Scale-out: daily-health-fanout on a Prefect server on PostgreSQL, with process workers.

    .venv/bin/python bench/scale_out.py demo                # make scale-demo: medium, 2 workers
    .venv/bin/python bench/scale_out.py bench --record      # large: 1 worker, then 2

Everything runs on Prefect's own machinery, as it would on several machines: a Prefect server
whose database is PostgreSQL, a process work pool, workers started with `prefect worker
start`, the deployments of prefect.yaml deployed with `prefect deploy --all`, and the fan-out
started as a deployment run; the trend store is a second PostgreSQL database. Only the hosts
are one: every part listens on 127.0.0.1, and all of it is stopped at the end.

`demo` checks that every team and domain of the sandbox landed exactly once in the store and
that the shards ran on different workers. `bench` times the fan-out with one worker (one
shard) and with two (two shards) against the sandbox with latency, and says where the time
went: CPU seconds of each process (sandbox, PostgreSQL, Prefect server, workers and the flow
runs they start) and, from the Prefect API, each shard's run against its tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
FANOUT = "daily-health-fanout"  # its deployment, started as flow/deployment
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(ROOT))

from deployments import DEFAULT_QUEUE, FANOUT_QUEUE, WORK_POOL  # noqa: E402
from mailops.ports import free_port  # noqa: E402

# --- CPU seconds of process trees (/proc) --------------------------------------------------


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and of its reaped children)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        table[int(entry.name)] = (int(fields[1]), ticks / CLOCK_TICKS)
    return table


def tree_cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """Each named root's CPU seconds so far, with its live descendants' and reaped ones'."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    totals = {}
    for name, root in roots.items():
        seconds, stack = 0.0, [root]
        while stack:
            pid = stack.pop()
            if pid in table:
                seconds += table[pid][1]
                stack.extend(children.get(pid, []))
        totals[name] = seconds
    return totals


# --- the cluster -----------------------------------------------------------------------------


@dataclass
class Cluster:
    """A Prefect server on PostgreSQL, a process work pool with workers, the deployments."""

    folder: Path
    environment: dict[str, str]
    store_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    postgres: Any = None

    def run(self, *command: str) -> None:
        """A `prefect` command against the server; its output goes to the cluster's log."""
        with (self.folder / "commands.log").open("a") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            done = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT,
                                  env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                                  check=False, timeout=600)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed; see {self.folder / 'commands.log'}")

    def spawn(self, name: str, *command: str) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]], cwd=ROOT, env=self.environment,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def cpu_roots(self, **others: int) -> dict[str, int]:
        """The pids whose process trees' CPU is counted: ours, PostgreSQL, and `others`."""
        roots = {name: process.pid for name, process in self.processes.items()} | others
        pid_file = Path(self.postgres.data_dir) / "postmaster.pid"
        roots["postgresql"] = int(pid_file.read_text().split()[0])
        return roots

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.postgres is not None:
            self.postgres.stop()


@contextmanager
def cluster(folder: Path, workers: int) -> Iterator[Cluster]:
    """Start PostgreSQL, the Prefect server on it, the pool, the deployments and `workers`
    workers; stop every one of them at the end, whatever happened."""
    from sandbox.postgres import LocalPostgres

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    node = Cluster(folder, {})
    try:
        node.postgres = LocalPostgres.start(folder / "postgresql", tuned_for_tests=False,
                                            settings={"max_connections": "200"})
        node.postgres.create_database("prefect")
        prefect_db = node.postgres.url("prefect", driver="asyncpg")
        node.store_url = node.postgres.create_database("mailops")
        node.environment = {
            **os.environ,
            "MAILOPS_DATABASE_URL": node.store_url,
            "MAILOPS_FANOUT__POLL_SECONDS": "1",  # the fan-out reads its shards' states
            "PREFECT_HOME": str(folder / "prefect-home"),
            "PREFECT_API_URL": api_url,
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
            "PREFECT_UI_ENABLED": "false",
            # Schedules stay off: only the runs this script starts run.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
        }
        node.spawn("prefect-server", "prefect", "server", "start", "--host", "127.0.0.1",
                   "--port", str(port))
        wait_for_server(api_url, node.processes["prefect-server"])
        node.run("prefect", "work-pool", "create", WORK_POOL, "--type", "process")
        node.run("prefect", "--no-prompt", "deploy", "--all")
        # Fan-out parents, which only wait, have a queue and a worker of their own; each
        # shard worker runs one shard at a time, so n shards spread over n workers.
        node.spawn("coordinator", "prefect", "worker", "start", "--pool", WORK_POOL,
                   "--work-queue", FANOUT_QUEUE, "--name", "coordinator", "--limit", "4")
        for number in range(1, workers + 1):
            node.spawn(f"worker-{number}", "prefect", "worker", "start", "--pool", WORK_POOL,
                       "--work-queue", DEFAULT_QUEUE, "--name", f"worker-{number}",
                       "--limit", "1")
        yield node
    finally:
        node.stop()


def wait_for_server(api_url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Prefect server stopped while starting; see prefect-server.log")
        try:
            if httpx.get(f"{api_url}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer within {timeout:.0f} s")


# --- one fan-out -----------------------------------------------------------------------------


def run_fanout(
    node: Cluster, shards: int, as_of: datetime, day: date, sandbox_pid: int
) -> dict[str, Any]:
    """Start the fan-out deployment, wait for it, and read what its shards did from the API."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.daily_health_fanout import SHARD_DEPLOYMENT

    with temporary_settings(updates={PREFECT_API_URL: node.environment["PREFECT_API_URL"]}):
        before = tree_cpu_seconds(node.cpu_roots(sandbox=sandbox_pid))
        started = time.perf_counter()
        parent = run_deployment(
            f"{FANOUT}/{FANOUT}", parameters={"shards": shards, "as_of": as_of.isoformat(),
                                "day": day.isoformat()},
            timeout=3600, poll_interval=1, as_subflow=False,
        )
        wall = time.perf_counter() - started
        after = tree_cpu_seconds(node.cpu_roots(sandbox=sandbox_pid))
        shards_run = runs_of(SHARD_DEPLOYMENT.split("/")[1])
        [fanout_run] = runs_of(FANOUT)
    cpu = {name: round(after[name] - before.get(name, 0.0), 1) for name in after}
    state = parent.state
    return {"wall_s": round(wall, 2), "state": state.type.value if state else None,
            "message": state.message if state else None, "cpu_s": cpu, "shards": shards_run,
            "fanout": fanout_run}


def runs_of(deployment: str) -> list[dict[str, Any]]:
    """Each run of a deployment (on this fresh server, all belong to the one fan-out): its
    worker, how long it waited for one, how long it ran, and its tasks' times."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterId,
    )

    async def read() -> list[dict[str, Any]]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])))
            found = []
            for run in sorted(runs, key=lambda r: str(r.parameters.get("shard", ""))):
                tasks = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
                waited = (run.start_time - run.expected_start_time).total_seconds() if (
                    run.start_time and run.expected_start_time) else None
                found.append({
                    "shard": run.parameters.get("shard"), "state": run.state_type.value,
                    "worker": (run.labels or {}).get("prefect.worker.name"),
                    "queued_s": round(waited, 2) if waited is not None else None,
                    "run_s": round(run.total_run_time.total_seconds(), 2),
                    "tasks_s": {t.name.rsplit("-", 1)[0]: round(t.total_run_time.total_seconds(),
                                                                    2) for t in tasks},
                })
            return found

    return asyncio.run(read())


def landed(store_url: str, day: date) -> tuple[dict[str, int], dict[str, int]]:
    """How many rows each team and each domain has for `day` in the trend store."""
    from sqlalchemy import func, select

    from mailops.store import Store, domain_daily, team_daily

    with Store(store_url) as store, store.engine.connect() as conn:
        teams = {team: int(n) for team, n in conn.execute(
            select(team_daily.c.team, func.count()).where(team_daily.c.day == day)
            .group_by(team_daily.c.team))}
        domains = {domain: int(n) for domain, n in conn.execute(
            select(domain_daily.c.domain, func.count()).where(domain_daily.c.day == day)
            .group_by(domain_daily.c.domain))}
    return teams, domains


def sandbox_names(info: dict[str, Any]) -> tuple[set[str], set[str]]:
    import httpx

    domains = httpx.get(f"{info['emboux_url']}/domains", trust_env=False, timeout=60,
                        headers={"Authorization": f"Bearer {info['master_token']}"}).json()
    return set(info["team_keys"]), {d["name"] for d in domains}


def differences(expected: set[str], found: dict[str, int], what: str) -> list[str]:
    """Every name missing, stored more than once, or stored without being expected."""
    problems = [f"{what} {name}: missing" for name in sorted(expected - set(found))]
    problems += [f"{what} {name}: {n} rows" for name, n in sorted(found.items()) if n != 1]
    problems += [f"{what} {name}: not in the sandbox" for name in sorted(set(found) - expected)]
    return problems


# --- the two modes ---------------------------------------------------------------------------


@contextmanager
def sandbox(scale: str, latency_ms: float, folder: Path, concurrency: int,
            rate: float) -> Iterator[Any]:
    """The sandbox in a child process (bench/daily_health.py's), and this process's
    environment pointed at it (team keys in variables named by a mailops.toml)."""
    from _common import Child
    from daily_health import configure

    with Child(str(BENCH / "daily_health.py"),
               ["--scale", scale, "--latency-ms", str(latency_ms)]) as child:
        configure(child.info, folder, concurrency, rate)
        yield child


def measure(
    scale: str, workers: int, latency_ms: float, concurrency: int, rate: float
) -> dict[str, Any]:
    """One fan-out of `workers` shards on `workers` workers, checked and timed."""
    folder = Path(tempfile.mkdtemp(prefix="mailops-scale-"))
    os.chmod(folder, 0o755)  # PostgreSQL runs as its own user and must reach its folder
    try:
        with sandbox(scale, latency_ms, folder, concurrency, rate) as child:
            as_of = datetime.fromisoformat(child.info["now"])
            day = (as_of - timedelta(hours=1)).date()
            expected_teams, expected_domains = sandbox_names(child.info)
            with cluster(folder, workers) as node:
                outcome = run_fanout(node, workers, as_of, day, child.process.pid)
                teams, domains = landed(node.store_url, day)
                outcome["api_url"] = node.environment["PREFECT_API_URL"]
        outcome["problems"] = (differences(expected_teams, teams, "team")
                               + differences(expected_domains, domains, "domain"))
        # what the limits allow a shard: the busier API's requests x latency / concurrency
        emboux_requests = 1 + -(-len(domains) // workers)
        outcome.update({"scale": scale, "workers": workers, "teams": len(teams),
                        "domains": len(domains), "latency_ms": latency_ms,
                        "concurrency": concurrency, "rate": rate, "folder": str(folder),
                        "bound_s": round(emboux_requests * latency_ms / 1000 / concurrency, 1)})
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def demo(args: argparse.Namespace) -> int:
    print(f"scale-demo: the {args.scale} sandbox, a Prefect server on PostgreSQL, a process "
          f"work pool with {args.workers} workers, the fan-out in {args.workers} shards...",
          flush=True)
    outcome = measure(args.scale, args.workers, args.latency_ms, args.concurrency, args.rate)
    workers = sorted({s["worker"] for s in outcome["shards"] if s["worker"]})
    print(f"fan-out {outcome['state']} in {outcome['wall_s']} s: {outcome['teams']} teams and "
          f"{outcome['domains']} domains in the PostgreSQL trend store")
    for shard in outcome["shards"]:
        print(f"  shard {shard['shard']} on {shard['worker']}: {shard['state']}, "
              f"{shard['run_s']} s (queued {shard['queued_s']} s)")
    problems = list(outcome["problems"])
    if outcome["state"] != "COMPLETED":
        problems.append(f"the fan-out ended {outcome['state']}: {outcome['message']}")
    if len(outcome["shards"]) != args.workers:
        problems.append(f"{len(outcome['shards'])} shard runs, not {args.workers}")
    if len(workers) < min(args.workers, 2):
        problems.append(f"every shard ran on {workers}: the work did not spread")
    if args.json:
        print(json.dumps({**outcome, "problems": problems}))
    for problem in problems:
        print(f"DIFFERENCE {problem}", file=sys.stderr)
    print("every team and domain landed exactly once, shards on " + ", ".join(workers)
          if not problems else f"{len(problems)} problem(s)")
    print("stopped: the workers, the Prefect server, PostgreSQL and the sandbox")
    return 1 if problems else 0


def bench(args: argparse.Namespace) -> int:
    rows = []
    for workers in [int(n) for n in args.workers_list.split(",")]:
        outcome = measure(args.scale, workers, args.latency_ms, args.concurrency, args.rate)
        print(json.dumps(outcome), flush=True)
        rows.append(outcome)
    base = rows[0]["wall_s"]
    for row in rows:
        row["speedup"] = round(base / row["wall_s"], 2)
        if args.record:
            record(row)
    print(json.dumps({"speedups": {r["workers"]: r["speedup"] for r in rows}}))
    return 1 if any(r["problems"] or r["state"] != "COMPLETED" for r in rows) else 0


def record(row: dict[str, Any]) -> None:
    from _common import record as append_row

    cpu = row["cpu_s"]
    flows = sum(v for k, v in cpu.items() if k.startswith("worker-"))
    slowest = max(row["shards"], key=lambda s: s["run_s"]) if row["shards"] else {}
    collect = max(slowest.get("tasks_s", {}).get(name, 0.0)
                  for name in ("collect_emboux", "collect_cleanbox"))
    fanout = row["fanout"]
    waited = fanout["queued_s"] + max(s["queued_s"] or 0.0 for s in row["shards"])
    append_row(
        "Scale-out: daily-health-fanout on workers",
        "`bench/scale_out.py bench`: the fan-out deployment started on a Prefect server on "
        "PostgreSQL, n shards on n process workers (`--limit 1`, all on this one machine) and "
        "the parent on a coordinator worker, the trend store on PostgreSQL, the sandbox with "
        "latency on every request. Bound: requests x latency / concurrency of the busier API "
        "(EmBoux: 1 + domains requests) per shard. Waiting: the parent's and a shard's time "
        "from scheduled to running (worker poll and process start). CPU seconds are per process "
        "tree during the fan-out (workers include the flow runs they start).",
        ["date", "scale", "workers = shards", "latency", "concurrency per shard", "fan-out s",
         "speed-up", "shard s (slowest collection; bound)", "waiting s", "CPU s: sandbox / "
         "workers + flows / Prefect server + coordinator / PostgreSQL"],
        [date.today().isoformat(), f"{row['scale']} ({row['teams']} teams, {row['domains']} "
         f"domains)", row["workers"], f"{row['latency_ms']:g} ms", row["concurrency"],
         f"**{row['wall_s']}**", f"{row['speedup']}x",
         f"{slowest.get('run_s')} ({collect}; {row['bound_s']})", round(waited, 1),
         f"{cpu.get('sandbox')} / {round(flows, 1)} / "
         f"{round(cpu.get('prefect-server', 0) + cpu.get('coordinator', 0), 1)} / "
         f"{cpu.get('postgresql')}"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    shown = modes.add_parser("demo", help="medium scale, two workers, checked (make scale-demo)")
    shown.add_argument("--scale", default="medium")
    shown.add_argument("--workers", type=int, default=2)
    shown.add_argument("--latency-ms", type=float, default=10.0)
    shown.add_argument("--json", action="store_true")
    timed = modes.add_parser("bench", help="large scale with one worker, then two")
    timed.add_argument("--scale", default="large")
    timed.add_argument("--workers-list", default="1,2")
    timed.add_argument("--latency-ms", type=float, default=50.0)
    timed.add_argument("--record", action="store_true", help="append rows to BENCHMARKS.md")
    for sub in (shown, timed):
        sub.add_argument("--concurrency", type=int, default=10, help="per API, per shard")
        sub.add_argument("--rate", type=float, default=0.0,
                         help="requests/s per API for the whole fan-out (0: no limit)")
    args = parser.parse_args(argv)
    return demo(args) if args.mode == "demo" else bench(args)


if __name__ == "__main__":
    sys.exit(main())
