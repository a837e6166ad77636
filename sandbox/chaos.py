"""The chaos run: the demo's simulated weeks while every API misbehaves, then a reconciliation
of everything mailops recorded against what the sandbox knows really happened.

It is the demo's loop (`sandbox.demo.Simulation`, every job a real Prefect flow on its
schedule) with the fault plan of `sandbox.fault_plan` installed in the sandbox, the
sandbox keeping ground truth (the metrics at each collection instant, every change it
applied and by which request, every reset), and, after the weeks, the pure comparisons of
`sandbox.reconcile` over the store, the sandbox's journal, what the Slack stand-in
received, and a scan for every key in use through the logs, artifacts, flow-run parameters,
Slack payloads, database rows and files. Any difference is listed; the goal is none.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.run import FlowOutcome
from mailops import jobs
from mailops.jsonable import to_jsonable
from sandbox import reconcile
from sandbox.clock import DEFAULT_START, SimClock
from sandbox.corpus import CorpusOutcome
from sandbox.corpus_run import run_corpus
from sandbox.demo import DemoSummary, Simulation, point_mailops_at
from sandbox.evidence import (
    Places,
    log_places,
    outbox_payloads,
    places_to_scan,
    secrets_in_use,
    store_tables,
)
from sandbox.fault_plan import api_of, chaos_plan
from sandbox.reconcile import Difference
from sandbox.server import Sandbox
from sandbox.world import build_world

# The client's side of a flaky API: give up on a hung answer in 2 s (the sandbox answers in
# milliseconds), back off briefly, and wait at most 30 s in all for one request (an outage's
# `Retry-After: 60` is given up on at once); Retry-After is honoured within that.
CHAOS_ENVIRONMENT = {
    "MAILOPS_HTTP__READ_TIMEOUT": "2",
    "MAILOPS_HTTP__CONNECT_TIMEOUT": "2",
    "MAILOPS_HTTP__BACKOFF_BASE_SECONDS": "0.05",
    "MAILOPS_HTTP__BACKOFF_MAX_SECONDS": "0.5",
    "MAILOPS_HTTP__RETRY_BUDGET_SECONDS": "30",
    # The guard tuned to the sandbox's volumes as the README advises (the design's defaults
    # are laxer than EmBoux's guillotine: docs/outbound-guard.md#tuning), so it suspends and
    # resumes: those are audited too.
    "MAILOPS_GUARD__WINDOW_SIZE": "200",
    "MAILOPS_GUARD__MIN_VOLUME": "100",
    "MAILOPS_GUARD__BOUNCE_RATE_PCT": "1.0",
    "MAILOPS_GUARD__ABSOLUTE_BOUNCES": "6",
}
TOP_SENDERS = 5  # what daily-health collects by default ([alerts] top_senders)


@dataclass
class ChaosSummary:
    """What a chaos run did, what it injected, and every difference it found."""

    days: int
    seed: int
    started: datetime
    ended: datetime
    folder: Path
    runs: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)  # "API kind": fired
    sandbox_faults_survived: int = 0
    failed_runs: list[str] = field(default_factory=list)  # ended in their one-line failure
    unexpected: list[str] = field(default_factory=list)  # raised instead
    differences: list[Difference] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)  # what the reconciliation compared
    seconds: float = 0.0
    durations: dict[str, float] = field(default_factory=dict)  # wall seconds per job run
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase
    evidence: Evidence | None = field(default=None, repr=False)  # what was reconciled
    corpus: list[CorpusOutcome] = field(default_factory=list)  # each bad answer, each job
    scheduled: dict[str, set[str]] = field(default_factory=dict)  # reset days and periods

    @property
    def jobs_run(self) -> int:
        return sum(self.runs.values())

    @property
    def faults_injected(self) -> int:
        """Every fault the sandbox served, and every bad answer of the corpus to each job."""
        return sum(self.faults.values()) + len(self.corpus)

    @property
    def survived(self) -> int:
        """Faults after which the job ended cleanly (completed, or its one-line failure), and
        corpus cases each job handled (a clear error naming the field, or a counted skip)."""
        return self.sandbox_faults_survived + sum(case.handled for case in self.corpus)

    def figure(self) -> str:
        """The compass figure: jobs run, faults injected, faults survived, differences."""
        return (f"jobs run {self.jobs_run}, faults injected {self.faults_injected}, "
                f"faults survived {self.survived}, differences found "
                f"{len(self.differences)} (goal: 0)")

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days, "seed": self.seed, "from": self.started.isoformat(),
            "to": self.ended.isoformat(), "folder": str(self.folder),
            "jobs_run": self.jobs_run, "runs": dict(self.runs),
            "faults_injected": self.faults_injected, "faults": dict(self.faults),
            "faults_survived": self.survived, "failed_runs": self.failed_runs,
            "corpus": to_jsonable(self.corpus),
            "unexpected": self.unexpected, "checked": dict(self.checked),
            "differences": to_jsonable(self.differences),
            "seconds": round(self.seconds, 1),
            "phases": {name: round(seconds, 1) for name, seconds in self.phases.items()},
            "slowest_runs": dict(sorted(self.durations.items(), key=lambda kv: -kv[1])[:15]),
        }


class LogCapture(logging.Handler):
    """Every log record of the run, formatted with its traceback, to scan for keys."""

    # the root, and the loggers Prefect's configuration keeps from propagating to it
    LOGGERS = ("", "mailops", "prefect.extra", "prefect._internal", "uvicorn", "fastapi")

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def __enter__(self) -> LogCapture:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


class FaultLedger:
    """The faults each job run met (the sandbox counts what each rule fired)."""

    def __init__(self, sandbox: Sandbox, summary: ChaosSummary) -> None:
        self.sandbox = sandbox
        self.summary = summary
        self._before: dict[str, int] = {}

    def fired(self) -> dict[str, tuple[str, int]]:
        return {rule["id"]: (f"{api_of(rule['target'])} {rule['kind']}", rule["fired"])
                for rule in self.sandbox.faults()}

    def start(self) -> None:
        self._before = {rule: count for rule, (_, count) in self.fired().items()}
        self._started = time.perf_counter()

    def finish(self, job: str, now: datetime, outcome: FlowOutcome) -> None:
        met = Counter()
        for rule, (what, count) in self.fired().items():
            if count > self._before.get(rule, 0):
                met[what] += count - self._before.get(rule, 0)
        self.summary.faults.update(met)
        when = f"{job} at {now:%Y-%m-%d %H:%M}"
        self.summary.durations[when] = round(time.perf_counter() - self._started, 2)
        if outcome.unexpected:
            self.summary.unexpected.append(f"{when}: {outcome.message}")
        else:
            self.summary.sandbox_faults_survived += sum(met.values())
            if not outcome.ok:
                self.summary.failed_runs.append(f"{when}: {outcome.message}")


def run_chaos(
    *,
    days: int = 35,
    seed: int = 7,
    folder: Path = Path("data/chaos"),
    start: datetime = DEFAULT_START,
    rate_scale: float = 1.0,
    on_step: Callable[[int, int, str], None] = lambda done, total, what: None,
) -> ChaosSummary:
    """Simulate `days` days from `start` under the fault plan (its background rates times
    `rate_scale`), then reconcile everything; returns the summary with every difference."""
    began = time.perf_counter()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    world = build_world(seed, "small", clock=SimClock(start))
    with LogCapture() as logs, Sandbox.start(world=world) as sandbox:
        point_mailops_at(sandbox, folder)
        os.environ.update(CHAOS_ENVIRONMENT)
        summary = ChaosSummary(days, seed, sandbox.now(), sandbox.now(), folder)
        for rule in chaos_plan(sandbox.now(), days, seed, rate_scale=rate_scale):
            sandbox.inject_fault(**rule)
        demo = DemoSummary(days // 7, summary.started, summary.started,
                           database=folder / "mailops.db")
        faults = FaultLedger(sandbox, summary)
        scheduled: dict[str, set[str]] = {"days": set(), "periods": set()}
        run_ids: list[str] = []

        def before(job: str, now: datetime, parameters: dict[str, Any]) -> None:
            if job == jobs.DAILY_HEALTH:
                sandbox.record_collection(parameters["day"].isoformat(), TOP_SENDERS)
            elif job == jobs.OUTBOUND_RESET_DAILY and now.hour == 0:
                # Each midnight slot resets its day (later runs only catch up a failed one);
                # the partial first day has no slot, and mailops must not reset it mid-day.
                scheduled["days"].add(now.date().isoformat())
            elif job == jobs.BILLING_FREEZE:
                scheduled["periods"].add(parameters["period"])
            faults.start()

        def after(job: str, now: datetime, outcome: FlowOutcome) -> None:
            faults.finish(job, now, outcome)
            if outcome.run_id:
                run_ids.append(outcome.run_id)

        Simulation(sandbox, demo, before=before, after=after,
                   review_first_cleanup=False).run(days, on_step)
        summary.phases["simulated days"] = time.perf_counter() - began
        summary.runs = demo.runs
        summary.ended = sandbox.now()
        sandbox.clear_faults()
        tables, posts = store_tables(), sandbox.slack_posts()
        evidence = Evidence(
            sandbox.journal(), sandbox.truth("emboux")["emboux"], posts,
            outbox_payloads(folder), sandbox.fault_log(), tables, secrets_in_use(sandbox),
            places_to_scan(posts, tables, folder, run_ids))
        summary.phases["evidence"] = time.perf_counter() - began - sum(summary.phases.values())
        on_step(1, 1, "the bad-input corpus")
        corpus = run_corpus(folder / "corpus", seed=seed)
        evidence.places += corpus.places + log_places(logs.lines)
        summary.phases["corpus"] = time.perf_counter() - began - sum(summary.phases.values())
    summary.evidence, summary.scheduled = evidence, scheduled
    summary.differences, summary.checked = reconcile_all(
        evidence, scheduled["days"], scheduled["periods"]
    )
    summary.corpus = corpus.outcomes
    summary.differences += corpus.differences + reconcile.secret_findings(
        corpus.secrets, corpus.places)
    summary.runs.update(corpus.runs)
    summary.seconds = time.perf_counter() - began
    (folder / "chaos-summary.json").write_text(
        json.dumps(summary.as_json(), indent=2, default=str), encoding="utf-8"
    )
    return summary


# --- evidence ---------------------------------------------------------------------------


@dataclass
class Evidence:
    """Everything the reconciliation compares, gathered once after the run."""

    journal: dict[str, Any]
    emboux: dict[str, Any]
    slack_posts: list[dict[str, Any]]
    outbox: list[Any]  # the payloads kept under <data>/slack
    faulted: list[dict[str, Any]]  # every request a fault answered, with its body
    tables: dict[str, list[dict[str, Any]]]
    secrets: dict[str, str]
    places: Places  # (where, text) to scan for the secrets


# --- reconciliation ------------------------------------------------------------------------


def reconcile_all(
    evidence: Evidence, days: Iterable[str], periods: Iterable[str]
) -> tuple[list[Difference], Counter[str]]:
    """Every check of the issue over the evidence; answers the differences and the counts of
    what was compared."""
    journal, emboux, tables = evidence.journal, evidence.emboux, evidence.tables
    payloads = [p.get("payload") for p in evidence.slack_posts]
    checked: Counter[str] = Counter({
        "collections": len(journal["collections"]),
        "team rows": len(tables.get("team_daily", [])),
        "domain rows": len(tables.get("domain_daily", [])),
        "changes applied": len(journal["changes"]),
        "audit rows": len(tables.get("audit_log", [])),
        "daily resets": len(emboux["reset_daily_log"]),
        "monthly resets": len(emboux["reset_monthly_log"]),
        "billing rows": len(tables.get("billing_rows", [])),
        "Slack posts": len(evidence.slack_posts),
        "Slack messages in the outbox": len(evidence.outbox),
        "places scanned for keys": len(evidence.places),
    })
    differences = [
        *reconcile.metric_differences(
            journal["collections"], tables.get("team_daily", []),
            tables.get("team_top_senders", []), tables.get("domain_daily", []),
            tables.get("alerts", [])),
        *reconcile.audit_differences(journal["changes"], tables.get("audit_log", [])),
        *reconcile.reset_differences(emboux["reset_daily_log"], emboux["reset_monthly_log"],
                                     days, periods),
        *reconcile.billing_differences(emboux["reset_monthly_log"],
                                       emboux["reset_monthly_frozen"],
                                       tables.get("billing_rows", [])),
        *reconcile.slack_differences(evidence.slack_posts),
        *reconcile.slack_lost_differences(evidence.faulted, payloads, evidence.outbox),
        *reconcile.guard_transition_differences(reconcile.guard_transitions(
            reconcile.guard_posts_in_order(payloads, evidence.outbox))),
        *reconcile.secret_findings(evidence.secrets, evidence.places),
    ]
    return differences, checked
