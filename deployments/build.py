"""Prefect deployments of every job in `deployments.JOBS`, for `mailops serve`."""

from __future__ import annotations

import importlib

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import Flow
from prefect.schedules import Cron

from deployments import JOBS, Job


def job_flow(job: Job) -> Flow:
    """The flow object a job runs."""
    flow = getattr(importlib.import_module(job.module), job.flow)
    if not isinstance(flow, Flow):
        raise TypeError(f"{job.entrypoint} is not a Prefect flow")
    return flow


def build_deployments(operator_zone: str) -> list[RunnerDeployment]:
    """One deployment per job, scheduled in its time zone (none for an on-demand job),
    never overlapping itself."""
    deployments = []
    for job in JOBS:
        limit = (
            ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
            if job.exclusive
            else None
        )
        deployments.append(
            job_flow(job).to_deployment(
                name=job.name,
                schedule=(
                    None if job.cron is None else Cron(job.cron, timezone=job.zone(operator_zone))
                ),
                parameters=dict(job.parameters),
                description=job.description,
                tags=list(job.deployment_tags),
                concurrency_limit=limit,
            )
        )
    return deployments
