"""The schedules and parameters of every job, in one place.

`JOBS` is the single source: `mailops serve` builds Prefect deployments from it and serves
them in one process; `prefect.yaml` (for `prefect deploy --all` onto a process work pool) is
rendered from it by `python -m deployments` and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from mailops import jobs

WORK_POOL = "mailops"
# Every deployment carries this tag (and so does every flow run started from one): the failure
# alert (deployments/alerts.py) matches on it, and the UI's filters find mailops' runs by it.
PROJECT_TAG = "mailops"
OPERATOR_ZONE = "operator"  # stands for MAILOPS_TIMEZONE in the table below
DEFAULT_QUEUE = "default"
FANOUT_QUEUE = "fanout"  # fan-out parents, which only wait for their shards


@dataclass(frozen=True)
class Job:
    """One job: its flow, when it runs (`cron` None: on demand only, from the UI or the
    command line), and with which parameters by default."""

    name: str
    flow: str  # the flow function: `flow` of module flows.<flow>
    cron: str | None
    timezone: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    exclusive: bool = True  # a second run while one is going is cancelled, never queued
    # The pool's queue: a fan-out parent, which only waits for its shards, has its own, so
    # parents never take the slots their shards need (workers choose with --work-queue).
    work_queue: str = DEFAULT_QUEUE

    @property
    def module(self) -> str:
        """The module of the flow function: flows/ has one module per job, named like it."""
        return f"flows.{self.flow}"

    @property
    def entrypoint(self) -> str:
        return f"{self.module.replace('.', '/')}.py:{self.flow}"

    @property
    def deployment_tags(self) -> tuple[str, ...]:
        """The deployment's tags: the project's, then the job's own."""
        return (PROJECT_TAG, *self.tags)

    @property
    def on_demand(self) -> bool:
        """No schedule: runs only when someone starts it."""
        return self.cron is None

    def zone(self, operator_zone: str) -> str:
        return operator_zone if self.timezone == OPERATOR_ZONE else self.timezone


JOBS: tuple[Job, ...] = (
    Job(
        jobs.DAILY_HEALTH, "daily_health", "0 8 * * *", OPERATOR_ZONE,
        "Collect every Cleanbox team and EmBoux domain into the trend tables, alert, and "
        "post one Slack report.",
        tags=("cleanbox", "emboux", "report"),
    ),
    Job(
        jobs.DAILY_HEALTH_FANOUT, "daily_health_fanout", None, OPERATOR_ZONE,
        "daily-health split into `shards` parallel runs of daily-health-shard (on any "
        "worker of the pool), then one report merged from the store. For many teams and "
        "domains: give it daily-health's schedule and pause daily-health's.",
        parameters={"shards": 2},
        tags=("cleanbox", "emboux", "report", "fanout"),
        work_queue=FANOUT_QUEUE,
    ),
    Job(
        jobs.DAILY_HEALTH_SHARD, "daily_health", None, "UTC",
        "One shard (parameter shard = i/n) of daily-health, started by daily-health-fanout; "
        "stores its teams and domains and posts no report of its own.",
        parameters={"notify": False},
        tags=("cleanbox", "emboux", "shard"),
        exclusive=False,  # the n shards of one fan-out run at once
    ),
    Job(
        jobs.OUTBOUND_RESET_DAILY, "outbound_reset_daily", "0 * * * *", "UTC",
        "POST /outbound/reset-daily exactly once per UTC day (ledger-guarded): at 00:00, "
        "and each later hour sends nothing unless that day's reset failed.",
        tags=("emboux", "exactly-once"),
    ),
    Job(
        jobs.BILLING_FREEZE, "billing_freeze", "5 * 1 * *", "UTC",
        "POST /outbound/reset-monthly exactly once per month; the frozen counters become "
        "the month's billing rows. At 00:05 on the 1st, and each later hour of the 1st sends "
        "nothing unless that month's freeze failed.",
        tags=("emboux", "exactly-once", "billing"),
    ),
    Job(
        jobs.CONTACT_CLEANUP, "contact_cleanup", "0 6 * * 1", OPERATOR_ZONE,
        "Classify unset contacts by Cleanbox's contact rules (docs/cleanbox-api.md); applies "
        "only with apply=true and an approval in the UI.",
        parameters={"apply": False},
        tags=("cleanbox", "gated"),
    ),
    Job(
        jobs.WEEKLY_REPORT, "weekly_report", "0 9 * * 1", OPERATOR_ZONE,
        "Week-over-week trends, drifts and forecasts from the trend tables, as a file, a "
        "Slack digest and an artifact.",
        parameters={"format": "html"},
        tags=("report",),
    ),
    Job(
        jobs.OUTBOUND_GUARD, "outbound_guard", "*/15 * * * *", "UTC",
        "The bounce monitor of docs/outbound-guard.md over EmBoux domains; suspends and "
        "resumes only with apply=true and an approval in the UI.",
        parameters={"apply": False},
        tags=("emboux", "gated"),
    ),
    Job(
        jobs.QUARANTINE_ACCEPT, "quarantine_accept", "0 * * * *", "UTC",
        "The auto-remediation of Cleanbox's monitoring guide: above the backlog threshold, "
        "accept quarantined mail from whitelisted contacts; applies only with apply=true and "
        "an approval in the UI.",
        parameters={"apply": False},
        tags=("cleanbox", "gated"),
    ),
    Job(
        jobs.DOMAIN_ONBOARDING, "domain_onboarding", None, "UTC",
        "Start verification of a new domain (a subdomain registers under its parent), store "
        "the DNS records to publish and post them to Slack; on demand, apply=false is a dry run.",
        tags=("emboux", "domains"),
    ),
    Job(
        jobs.VERIFICATION_WATCH, "verification_watch", "0 7 * * *", OPERATOR_ZONE,
        "Poll verify-status of every onboarded domain not yet verified, record each change, "
        "report newly verified domains and alert on those pending 3 days or more.",
        parameters={"pending_alert_days": 3},
        tags=("emboux", "domains"),
    ),
    Job(
        jobs.CREDENTIAL_ROTATION, "credential_rotation", "0 3 1 * *", "UTC",
        "Rotate the provider credential of every domain whose credential mailops installed "
        "(or the listed domains) into a Prefect Secret block; applies only with apply=true "
        "and an approval in the UI.",
        parameters={"apply": False},
        tags=("emboux", "domains", "gated"),
    ),
)


# The header of prefect.yaml: how to use it. Comments are text; the document itself is data.
_PREFECT_YAML_HEADER = """\
# Rendered from deployments/__init__.py by `python -m deployments`; do not edit.
# prefect work-pool create mailops --type process
# prefect deploy --all    (from the project folder; workers run the flows from it)
# mailops alerts setup    (the Slack alert on a failed or crashed run; see README)
# prefect worker start --pool mailops   (or --work-queue default / fanout: see README)
"""


def prefect_yaml(operator_zone: str) -> str:
    """The prefect.yaml that puts every job on the `mailops` process work pool.

    Built as data and written by PyYAML's safe_dump, so any description or parameter (quotes,
    `: `, `#`, newlines) comes back from the file as it was written."""
    document = {
        "name": "mailops",
        "prefect-version": "3.9.1",
        "deployments": [_prefect_deployment(job, operator_zone) for job in JOBS],
    }
    # width: no folding, so each description stays on one line and its diff is one line
    return _PREFECT_YAML_HEADER + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=float("inf"))


def _prefect_deployment(job: Job, operator_zone: str) -> dict[str, Any]:
    """One entry of prefect.yaml's `deployments`."""
    entry: dict[str, Any] = {
        "name": job.name,
        "entrypoint": job.entrypoint,
        "description": job.description,
        "tags": list(job.deployment_tags),
        "parameters": dict(job.parameters),
        "work_pool": {"name": WORK_POOL, "work_queue_name": job.work_queue},
        "schedules": [] if job.cron is None else [
            {"cron": job.cron, "timezone": job.zone(operator_zone)}],
    }
    if job.exclusive:
        entry["concurrency_limit"] = {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    return entry
