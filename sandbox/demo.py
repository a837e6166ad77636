"""The demo: several simulated weeks in the sandbox, every job run when its schedule says.

The sandbox runs in-process; its clock is advanced in steps and, at each step, the jobs
whose schedule falls there run as real Prefect flows against it over HTTP, writing a real
SQLite store under `data/demo/`. Nothing here is a shortcut a production run would not
take: the flows are the deployed ones, with the simulated instant passed as `as_of` (only a
task's retry does not wait real seconds, which would meet the same stopped simulated instant:
`retries_at_once`). The gated
jobs run as a person would run them: the guard and quarantine-accept applied; the contact
cleanup as a dry run on the first Monday, applied on the later ones (whitelisted senders'
quarantined mail is then released by quarantine-accept). The loop (`Simulation`) is shared
with the chaos run (`sandbox/chaos.py`), which adds faults around it and a reconciliation after.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flows.run import FlowOutcome, run_flow
from mailops import jobs
from mailops.domains import VerificationWatchResult
from mailops.jsonable import renamed
from sandbox.server import Sandbox

NEW_DOMAIN = "newcomer-demo.com"  # registered in EmBoux on day 1, onboarded by the demo
STEP = timedelta(hours=12)  # the guard runs at every step; production runs it every 15 min
CATCH_UP = timedelta(hours=1)  # the resets' production schedule: a failed one is retaken hourly
REVIEWED_CAP = 100_000  # the cap a person raises to after reading the first dry run


@dataclass
class DemoSummary:
    """What the demo did and where its results are."""

    weeks: int
    started: datetime = field(metadata=renamed("from"))
    ended: datetime = field(metadata=renamed("to"))
    runs: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    database: Path = Path()
    slack_posts: Path = Path()
    reports: list[Path] = field(default_factory=list)
    alerts: int = 0
    onboarded: dict[str, str | None] = field(default_factory=dict)  # domain: verified when


def point_mailops_at(sandbox: Sandbox, folder: Path) -> None:
    """Configure mailops (this process's environment) for the sandbox and the demo folder."""
    lines = []
    for number, (name, key) in enumerate(sandbox.team_keys.items()):
        os.environ[f"DEMO_TEAM_KEY_{number}"] = key
        lines += ["[[teams]]", f"name = {json.dumps(name)}",
                  f'api_key_env = "DEMO_TEAM_KEY_{number}"', ""]
    config = folder / "mailops.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    os.environ.update({
        "MAILOPS_CONFIG": str(config),
        "MAILOPS_DATABASE_URL": f"sqlite:///{folder / 'mailops.db'}",
        "MAILOPS_DATA_DIR": str(folder),
        "MAILOPS_CLEANBOX_BASE_URL": sandbox.cleanbox_url,
        "MAILOPS_EMBOUX_BASE_URL": sandbox.emboux_url,
        "MAILOPS_EMBOUX_API_KEY": sandbox.master_token,
        "MAILOPS_SLACK_WEBHOOK_URL": sandbox.slack_webhook_url,
        # The real APIs' limits are unknown, hence the cautious 20/s default; the local
        # sandbox serves thousands a second.
        "MAILOPS_CLEANBOX_LIMITS__RATE_LIMIT_PER_SECOND": "500",
        "MAILOPS_EMBOUX_LIMITS__RATE_LIMIT_PER_SECOND": "500",
    })


@contextmanager
def retries_at_once() -> Iterator[None]:
    """Every mailops task retried without its real-time delay while the block runs.

    A simulated clock stands still while a flow runs, so a task's retry after 2 or 10 real
    seconds meets the same simulated instant as one at once (the same outage, the same
    answers, the same faults: the sandbox draws them per request, not per second); the
    wait would only wait. The retries themselves, their conditions and their number are
    the tasks' own. Each module-level task with a delay is swapped for a copy without it
    (the flows call tasks through their modules) and put back after.
    """
    import importlib
    import pkgutil

    from prefect import Task

    import flows
    import tasks

    swapped: list[tuple[Any, str, Any]] = []
    for package in (tasks, flows):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, value in list(vars(module).items()):
                if isinstance(value, Task) and value.retries and value.retry_delay_seconds:
                    swapped.append((module, name, value))
                    setattr(module, name, value.with_options(retry_delay_seconds=0))
    try:
        yield
    finally:
        for module, name, value in reversed(swapped):
            setattr(module, name, value)


Before = Callable[[str, datetime, dict[str, Any]], None]
After = Callable[[str, datetime, FlowOutcome], None]


def _nothing(*args: Any) -> None:
    """The default hook: nothing to do around a job."""


class Simulation:
    """The schedule loop the demo and the chaos run share: the sandbox's clock advanced in
    steps and, at each step, every job whose schedule falls there run as a real flow.

    `before(job, now, parameters)` runs just before each flow and `after(job, now, outcome)`
    just after it (the chaos run records ground truth and counts faults there).
    `review_first_cleanup` makes the first Monday's cleanup the dry run a person reviews.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        summary: DemoSummary,
        *,
        before: Before = _nothing,
        after: After = _nothing,
        review_first_cleanup: bool = True,
    ) -> None:
        self.sandbox = sandbox
        self.summary = summary
        self.before = before
        self.after = after
        self.review_first_cleanup = review_first_cleanup
        self.started = sandbox.now()

    def job(self, job: str, flow: Callable[..., Any], now: datetime, /, **parameters: Any
            ) -> FlowOutcome:
        """Run one job's flow at the simulated instant `now`, counted in the summary."""
        self.before(job, now, parameters)
        outcome = run_flow(flow, **parameters)
        self.summary.runs[job] += 1
        if not outcome.ok:
            self.summary.failed.append(f"{job} at {now:%Y-%m-%d %H:%M}: {outcome.message}")
        self.after(job, now, outcome)
        return outcome

    def resets(self, now: datetime) -> bool:
        """The daily reset, and on the 1st the billing freeze of the month before.

        Answers whether both ended well (a run that found nothing to do ended well).
        """
        from prefect import tags

        from flows.billing_freeze import billing_freeze
        from flows.outbound_reset_daily import outbound_reset_daily
        from tasks.context import SCHEDULED_TAG

        with tags(SCHEDULED_TAG):  # as Prefect's scheduler would start them
            ok = self.job(jobs.OUTBOUND_RESET_DAILY, outbound_reset_daily, now, as_of=now).ok
            billed = now.date().replace(day=1) - timedelta(days=1)
            if now.day == 1 and billed >= self.started.date().replace(day=1):  # a month it saw
                ok = self.job(jobs.BILLING_FREEZE, billing_freeze, now, period=f"{billed:%Y-%m}",
                              as_of=now).ok and ok
        return ok

    def resets_until_settled(self, now: datetime, until: datetime) -> None:
        """The resets at `now` and, while they fail, once an hour until before `until`.

        Production schedules the resets hourly; the simulation's steps are longer, so a failed
        reset is retaken here on the hourly grid, as the production schedule would retake it.
        """
        while not self.resets(now) and now + CATCH_UP < until:
            self.sandbox.advance(hours=CATCH_UP.total_seconds() / 3600)
            now = self.sandbox.now()

    def advance_to(self, moment: datetime) -> datetime:
        """Advance the sandbox's clock to `moment` (a catch-up may have moved it part way)."""
        left = moment - self.sandbox.now()
        if left > timedelta(0):
            self.sandbox.advance(hours=left.total_seconds() / 3600)
        return self.sandbox.now()

    def run(self, days: int, on_step: Callable[[int, int, str], None]) -> None:
        """Onboard the new domain, then simulate `days` days of every job's schedule (the
        tasks' retries at once: `retries_at_once`)."""
        with retries_at_once():
            self._run(days, on_step)

    def _run(self, days: int, on_step: Callable[[int, int, str], None]) -> None:
        from flows.contact_cleanup import contact_cleanup
        from flows.daily_health import daily_health
        from flows.domain_onboarding import domain_onboarding
        from flows.outbound_guard import outbound_guard
        from flows.quarantine_accept import quarantine_accept
        from flows.verification_watch import verification_watch
        from flows.weekly_report import weekly_report
        from mailops.report.weekly import WeeklyReportResult

        sandbox, summary, job = self.sandbox, self.summary, self.job
        # Week 1: a customer registers a new sending domain and the operator onboards it.
        sandbox.world.emboux.add_domain(
            NEW_DOMAIN, next(iter(sandbox.customer_tokens)), verified=False
        )
        start = self.started = sandbox.now()
        job(jobs.DOMAIN_ONBOARDING, domain_onboarding, start, name=NEW_DOMAIN, apply=True,
            as_of=start)
        summary.onboarded[NEW_DOMAIN] = None

        steps = int(timedelta(days=days) / STEP)
        for step in range(steps):
            now = self.advance_to(start + (step + 1) * STEP)
            following = start + (step + 2) * STEP
            on_step(step, steps, f"{now:%a %Y-%m-%d %H:%M}")
            job(jobs.OUTBOUND_GUARD, outbound_guard, now, apply=True, as_of=now)
            if now.hour != 0:
                # The resets run hourly: a later run sends nothing unless the day's failed.
                self.resets_until_settled(now, following)
                continue
            yesterday = (now - timedelta(days=1)).date()
            # The day's figures are read before midnight's reset zeroes today's sends.
            job(jobs.DAILY_HEALTH, daily_health, now, day=yesterday, as_of=now)
            # Hourly in production; once a simulated day here, applied (the demo's --apply).
            job(jobs.QUARANTINE_ACCEPT, quarantine_accept, now, apply=True, as_of=now)
            watch = job(jobs.VERIFICATION_WATCH, verification_watch, now, as_of=now)
            if watch.ok and isinstance(watch.result, VerificationWatchResult):
                for name in watch.result.verified:
                    summary.onboarded[name] = now.isoformat()
            if now.weekday() == 0:
                # The first Monday is the dry run a person reviews; later ones apply it.
                dry_run = self.review_first_cleanup and summary.runs[jobs.CONTACT_CLEANUP] == 0
                job(jobs.CONTACT_CLEANUP, contact_cleanup, now, apply=not dry_run,
                    max_actions=REVIEWED_CAP, as_of=now)
                week = yesterday.isocalendar()
                report = job(jobs.WEEKLY_REPORT, weekly_report, now,
                             week=f"{week.year}-W{week.week:02d}", format="html")
                if report.ok and isinstance(report.result, WeeklyReportResult) and (
                        report.result.file):
                    summary.reports.append(Path(report.result.file))
            # Last at midnight: its hourly retakes move the clock, and the jobs above ran at
            # the slot's instant.
            self.resets_until_settled(now, following)
        on_step(steps, steps, "done")
        summary.ended = sandbox.now()


def run_demo(
    *,
    weeks: int = 4,
    seed: int = 7,
    folder: Path = Path("data/demo"),
    on_step: Callable[[int, int, str], None] = lambda done, total, what: None,
) -> DemoSummary:
    """Simulate `weeks` weeks and run every job on its schedule; `on_step` reports progress."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with Sandbox.start(seed=seed, scale="small") as sandbox:
        point_mailops_at(sandbox, folder)
        summary = DemoSummary(weeks, sandbox.now(), sandbox.now(), database=folder / "mailops.db")
        Simulation(sandbox, summary).run(7 * weeks, on_step)
        summary.slack_posts = folder / "slack-posts.json"
        summary.slack_posts.write_text(
            json.dumps([p["payload"] for p in sandbox.slack_posts()], indent=2), encoding="utf-8"
        )
    summary.alerts = _count_alerts(folder / "mailops.db")
    return summary


def _count_alerts(database: Path) -> int:
    from sqlalchemy import func, select

    from mailops.store import Store, alerts

    with Store(f"sqlite:///{database}") as store:
        store.upgrade()
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(alerts)).scalar_one())
