"""Tasks of contact-cleanup and contact-undo: plan, apply, undo, publish, notify.

Tasks take plain values (run ids, team names, instants) and build their clients and store
inside, from the settings read where they run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import Task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from mailops.cleanbox import CleanboxClient
from mailops.contacts import (
    ACTIONS,
    JOB,
    UNDO_JOB,
    ContactChange,
    ContactCleanupResult,
    ContactUndoResult,
    FailedContact,
    PlanSummary,
    apply_contact_plan,
    check_undo,
    counts_of_run,
    parse_target,
    plan_batches,
    save_streamed_plan,
    team_clients,
)
from mailops.errors import (
    MailopsError,
    RateLimitedError,
    ServerError,
    StoreError,
    UnavailableError,
)
from mailops.gate import save_plan
from mailops.report.escape import markdown_text, visible_values
from mailops.report.slack import SlackNotifier, contact_cleanup_message
from mailops.rules.shard import Shard
from mailops.store import Store
from tasks.context import configured_teams, current_settings
from tasks.define import task

_TRANSIENT = (UnavailableError, ServerError, RateLimitedError, StoreError)


def _only_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry what may pass by itself (a server down, a locked database); a rejected key or
    an unknown team will not."""
    return isinstance(state.data, _TRANSIENT)


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_only_transient)
async def plan_cleanup(
    run_id: str, team_names: list[str], as_of: datetime, shard: Shard | None = None
) -> PlanSummary:
    """Read every unset contact of the teams, classify, and store the plan under `run_id`.

    A run whose plan is already stored (a retried or resumed run) keeps it: the plan a
    person reviewed is the one applied. The plan is written in one transaction, so a retry
    after a failure starts from nothing. A shard's run takes its share of the rate limit.
    """
    settings = current_settings(shard)
    with Store(settings.database_url) as store:
        store.upgrade()
        if store.plans.counts(run_id):
            return _stored_summary(store, run_id, team_names)
        summary = PlanSummary(run_id)
        teams = configured_teams(settings, team_names)
        async with CleanboxClient.from_settings(settings) as client:
            batches = plan_batches(client, teams, settings.contacts, as_of, summary,
                                   per_page=settings.contacts.per_page)
            await save_streamed_plan(store, run_id, JOB, batches)
    return summary


def _stored_summary(store: Store, run_id: str, team_names: list[str]) -> PlanSummary:
    """The summary of a plan stored earlier (keep and invalid counts were not stored)."""
    summary = PlanSummary(run_id, teams=list(team_names), reused=True)
    planned, _ = counts_of_run(store, run_id)
    summary.planned.update(planned)
    for stored in store.plans.of_run(run_id)[:50]:
        team, uuid = parse_target(stored.change.target)
        summary.top.append(ContactChange(uuid, stored.change.label, stored.change.action,
                                         stored.change.reason, team))
    return summary


@task(retries=1, retry_delay_seconds=5, retry_condition_fn=_only_transient)
async def apply_cleanup(
    run_id: str, team_names: list[str], shard: Shard | None = None
) -> tuple[dict[str, int], tuple[FailedContact, ...]]:
    """Apply the stored plan's still-planned changes; resumable (done ones are skipped).
    Returns the changes recorded as made, per action, and those that failed this time."""
    settings = current_settings(shard)
    teams = configured_teams(settings, team_names)
    with Store(settings.database_url) as store:
        async with CleanboxClient.from_settings(settings) as client:
            result = await apply_contact_plan(store, run_id, JOB, team_clients(client, teams))
        _, applied = counts_of_run(store, run_id)
    return applied, _failed(result.failed)


def _failed(failed: list[tuple[str, str]]) -> tuple[FailedContact, ...]:
    return tuple(FailedContact(label, message) for label, message in failed)


@task(retries=1, retry_delay_seconds=5, retry_condition_fn=_only_transient)
async def undo_cleanup(cleanup_run_id: str, undo_run_id: str) -> ContactUndoResult:
    """Revert what a cleanup run applied, where the contact still has the state it set.

    The reverts are stored as the undo run's own plan (job contact-undo) and applied through
    the gate, so each is audited and a re-run of the undo finishes what is left.
    """
    settings = current_settings()
    teams = configured_teams(settings)
    with Store(settings.database_url) as store:
        store.upgrade()
        async with CleanboxClient.from_settings(settings) as client:
            clients = team_clients(client, teams)
            if not store.plans.counts(undo_run_id):
                check = await check_undo(store, cleanup_run_id, clients)
                save_plan(store, undo_run_id, UNDO_JOB, check.reverts)
                overridden, missing, already = check.overridden, check.missing, check.already
            else:
                overridden, missing, already = [], [], 0
            result = await apply_contact_plan(store, undo_run_id, UNDO_JOB, clients)
    return ContactUndoResult(undo_run_id, cleanup_run_id, result.applied + result.already_done,
                             tuple(overridden), already, tuple(missing), _failed(result.failed))


@task()
def publish_artifacts(result: ContactCleanupResult) -> None:
    """The top of the plan as a table and the counts as markdown, in the Prefect UI."""
    create_table_artifact(
        key="contact-cleanup-plan",
        table=visible_values([{"team": a.team, "email": a.email, "action": a.action,
                               "reason": a.reason} for a in result.actions]),
        description=f"Top of the contact-cleanup plan of run {result.run_id}",
    )
    lines = [f"# Contact cleanup {markdown_text(result.run_id)}", "",
             "| action | planned | applied |", "|---|---|---|"]
    for action in ACTIONS:
        lines.append(f"| {action} | {result.planned.get(action, 0)} | "
                     f"{result.applied.get(action, '')} |")
    lines += ["", f"Skipped (not an address): {result.skipped_invalid}", "",
              "| rule | contacts |", "|---|---|"]
    lines += [f"| {rule} | {n} |" for rule, n in sorted(result.by_rule.items())]
    if result.refused:
        lines += ["", f"**Not applied:** {markdown_text(result.refused)}"]
    create_markdown_artifact(key="contact-cleanup-counts", markdown="\n".join(lines),
                             description="contact-cleanup counts per action and rule")


@task()
def notify(result: ContactCleanupResult) -> tuple[str | None, str | None]:
    """Post the summary to Slack (or the outbox file): (where it went, or why not)."""
    try:
        notifier = SlackNotifier.from_settings(current_settings())
        delivery = notifier.post(contact_cleanup_message(result),
                                 name=f"{JOB}-{result.run_id.replace('/', '-')}")
    except MailopsError as exc:
        return None, str(exc)
    return delivery.describe(), None
