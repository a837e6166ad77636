"""Every job's deployment builds, on its schedule, with parameters its flow accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import deployments
from deployments import JOBS, Job, prefect_yaml
from deployments.build import build_deployments, job_flow

ROOT = Path(__file__).resolve().parents[2]


def test_every_deployment_builds_with_the_designed_schedule():
    built = {d.name: d for d in build_deployments("Europe/Berlin")}
    expected = {
        "daily-health": ("0 8 * * *", "Europe/Berlin"),
        "outbound-reset-daily": ("0 * * * *", "UTC"),
        "billing-freeze": ("5 * 1 * *", "UTC"),
        "contact-cleanup": ("0 6 * * 1", "Europe/Berlin"),
        "outbound-guard": ("*/15 * * * *", "UTC"),
        "weekly-report": ("0 9 * * 1", "Europe/Berlin"),
        "quarantine-accept": ("0 * * * *", "UTC"),
        "verification-watch": ("0 7 * * *", "Europe/Berlin"),
        "credential-rotation": ("0 3 1 * *", "UTC"),
    }
    assert set(built) == {job.name for job in JOBS}
    for name, (cron, zone) in expected.items():
        [schedule] = built[name].schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (cron, zone)


def test_on_demand_jobs_are_deployed_without_a_schedule():
    built = {d.name: d for d in build_deployments("UTC")}
    assert [j.name for j in JOBS if j.on_demand] == [
        "daily-health-fanout", "daily-health-shard", "domain-onboarding"]
    assert not built["domain-onboarding"].schedules
    [entry] = [d for d in yaml.safe_load(prefect_yaml("UTC"))["deployments"]
               if d["name"] == "domain-onboarding"]
    assert entry["schedules"] == []


# What a person types into the UI's form when starting an on-demand job.
ON_DEMAND_INPUTS = {"domain-onboarding": {"name": "new.example.com"}}


def test_default_parameters_validate_against_each_flow():
    built = {d.name: d for d in build_deployments("UTC")}
    for job in JOBS:
        given = {**job.parameters, **ON_DEMAND_INPUTS.get(job.name, {})}
        validated = job_flow(job).validate_parameters(given)
        # each value is one the flow takes as it is (no coercion of "false" into False), and
        # the deployment carries exactly the job's parameters
        assert {key: validated[key] for key in given} == given, job.name
        assert built[job.name].parameters == job.parameters, job.name


def test_jobs_never_overlap_themselves_but_a_fanouts_shards_run_together():
    for deployment in build_deployments("UTC"):
        if deployment.name == "daily-health-shard":
            assert deployment.concurrency_limit is None
            continue
        assert deployment.concurrency_limit == 1
        assert deployment.concurrency_options.collision_strategy.value == "CANCEL_NEW"


def test_the_fanout_starts_the_shard_deployment_that_exists():
    from flows.daily_health_fanout import SHARD_DEPLOYMENT

    flow_name, deployment_name = SHARD_DEPLOYMENT.split("/")
    [shard] = [job for job in JOBS if job.name == deployment_name]
    assert job_flow(shard).name == flow_name
    assert shard.parameters == {"notify": False}


def test_gated_jobs_are_deployed_as_dry_runs():
    assert {j.name for j in JOBS if j.parameters.get("apply") is False} == {
        "contact-cleanup", "outbound-guard", "quarantine-accept", "credential-rotation"}


def test_prefect_yaml_is_rendered_from_the_same_table():
    committed = (ROOT / "prefect.yaml").read_text()
    assert committed == prefect_yaml("UTC")
    parsed = yaml.safe_load(committed)
    assert [d["entrypoint"] for d in parsed["deployments"]] == [j.entrypoint for j in JOBS]
    for entry in parsed["deployments"]:
        assert entry["work_pool"]["name"] == "mailops"


def test_prefect_yaml_keeps_any_text_as_it_was_written(monkeypatch: pytest.MonkeyPatch):
    tricky = 'Say "hi": then # not a comment\nsecond line: {x}, [y] & *z'
    job = Job("tricky", "daily_health", "*/5 * * * *", "UTC", tricky,
              parameters={"note": tricky, "apply": False, "on": "yes", "n": 3})
    monkeypatch.setattr(deployments, "JOBS", (job,))
    [entry] = yaml.safe_load(prefect_yaml("UTC"))["deployments"]
    assert entry["description"] == tricky
    assert entry["parameters"] == {"note": tricky, "apply": False, "on": "yes", "n": 3}
    assert entry["schedules"] == [{"cron": "*/5 * * * *", "timezone": "UTC"}]
