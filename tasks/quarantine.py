"""Tasks of quarantine-accept: plan, apply, count again, publish, notify.

Tasks take plain values (run ids, team names, thresholds) and build their clients and store
inside, from the settings read where they run.
"""

from __future__ import annotations

import asyncio

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from mailops.cleanbox import CleanboxClient
from mailops.contacts import team_clients
from mailops.errors import MailopsError
from mailops.gate import save_plan
from mailops.quarantine import (
    JOB,
    FailedAccept,
    QuarantineAcceptResult,
    TeamPlan,
    applied_per_team,
    apply_accepts,
    plan_teams,
    stored_team_plans,
)
from mailops.report.escape import markdown_text, visible_values
from mailops.report.slack import SlackNotifier, quarantine_accept_message
from mailops.store import Store
from tasks.contacts import _only_transient
from tasks.context import configured_teams, current_settings
from tasks.define import task


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_only_transient)
async def plan_quarantine(
    run_id: str, team_names: list[str], threshold: int, max_spam_score: float | None
) -> list[TeamPlan]:
    """Count each team's backlog and, over the threshold, store the accepts under `run_id`.

    A run whose plan is already stored (a retried or resumed run) keeps it, with backlogs
    counted again: the plan a person reviewed is the one applied.
    """
    settings = current_settings()
    teams = configured_teams(settings, team_names)
    with Store(settings.database_url) as store:
        store.upgrade()
        async with CleanboxClient.from_settings(settings) as client:
            clients = team_clients(client, teams)
            if store.plans.counts(run_id):
                plans = stored_team_plans(store, run_id, team_names, threshold)
                backlogs = await asyncio.gather(
                    *(clients[name].count_quarantine() for name in plans))
                for plan, backlog in zip(plans.values(), backlogs, strict=True):
                    plan.backlog = backlog
                return list(plans.values())
            found = await plan_teams(clients, threshold, max_spam_score)
        save_plan(store, run_id, JOB, (c for plan in found for c in plan.changes))
    return found


@task(retries=1, retry_delay_seconds=5, retry_condition_fn=_only_transient)
async def apply_quarantine(
    run_id: str, team_names: list[str]
) -> tuple[dict[str, int], tuple[FailedAccept, ...]]:
    """Accept the stored plan's still-planned messages in batches; resumable, audited.
    Returns the accepts recorded as made, per team, and those that failed this time."""
    settings = current_settings()
    teams = configured_teams(settings, team_names)
    with Store(settings.database_url) as store:
        async with CleanboxClient.from_settings(settings) as client:
            result = await apply_accepts(store, run_id, team_clients(client, teams))
        applied = applied_per_team(store, run_id)
    return applied, tuple(FailedAccept(label, message) for label, message in result.failed)


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_only_transient)
async def count_backlogs(team_names: list[str]) -> dict[str, int]:
    """Each team's exact quarantine backlog now."""
    settings = current_settings()
    teams = configured_teams(settings, team_names)
    async with CleanboxClient.from_settings(settings) as client:
        clients = team_clients(client, teams)
        counts = await asyncio.gather(*(c.count_quarantine() for c in clients.values()))
    return dict(zip(clients, counts, strict=True))


@task()
def publish_artifacts(result: QuarantineAcceptResult) -> None:
    """Backlog before and after, accepted and kept per team, and the accepted senders."""
    create_table_artifact(
        key="quarantine-accept-plan",
        table=visible_values([{"team": t.team, "uuid": m.uuid, "from": m.sender,
                               "subject": m.subject, "reason": m.reason}
                              for t in result.teams for m in t.top]),
        description=f"Accepted (or planned) messages of quarantine-accept run {result.run_id}",
    )
    mode = "dry run" if result.dry_run else "apply"
    lines = [f"# Quarantine accept ({mode}) {markdown_text(result.run_id)}", "",
             "| team | backlog | after | threshold | planned | accepted | not whitelisted "
             "| spam score |", "|---|---|---|---|---|---|---|---|"]
    for t in result.teams:
        lines.append(
            f"| {markdown_text(t.team)} | {t.backlog} | {t.backlog_after} | "
            f"{t.threshold} | {len(t.planned)} | {t.accepted} | "
            f"{t.kept['not_whitelisted']} | {t.kept['spam_score']} |")
    if result.refused:
        lines += ["", f"**Not applied:** {markdown_text(result.refused)}"]
    if result.failed:
        lines += ["", f"**Not accepted:** {len(result.failed)} messages "
                  f"(first: {markdown_text(result.failed[0].error)})"]
    create_markdown_artifact(key="quarantine-accept-counts", markdown="\n".join(lines),
                             description="quarantine-accept backlog and counts per team")


@task()
def notify(result: QuarantineAcceptResult) -> tuple[str | None, str | None]:
    """Post the summary to Slack (or the outbox file): (where it went, or why not)."""
    try:
        notifier = SlackNotifier.from_settings(current_settings())
        delivery = notifier.post(quarantine_accept_message(result),
                                 name=f"{JOB}-{result.run_id.replace('/', '-')}")
    except MailopsError as exc:
        return None, str(exc)
    return delivery.describe(), None
